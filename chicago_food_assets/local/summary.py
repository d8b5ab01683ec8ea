"""What `./run demo` says when it is done: the published model, the newest visit list's top five, how past lists did,
the newest plan's totals and its first inspector's first route, and where everything is (read from the tables,
whatever the storage)."""

import json

from chicago_food_assets.core.declarations.contracts import PLACE_NAME, SCHEMA


def summary(env: dict[str, str]) -> str:
    """Where everything is, and the published model (read from `food.current_model`, whatever the storage)."""
    import psycopg2

    with psycopg2.connect(env["CHICAGO_FOOD_POSTGRES_URL"]) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"SELECT model_version, name, holdout_from, holdout_to, metrics FROM {SCHEMA}.current_model LIMIT 1"
        )
        model = cursor.fetchone()
    lines = ["", "done."]
    if model:
        version, name, start, end, metrics = model
        metrics = metrics if isinstance(metrics, dict) else json.loads(metrics)
        chosen = metrics[name]
        lines.append(
            f"selected model {version}: holdout {start}..{end} ROC AUC {chosen['roc_auc']:.3f}, fails found "
            f"{chosen['days_earlier']:.1f} days earlier (baseline previous result: "
            f"AUC {metrics['baseline_previous_result']['roc_auc']:.3f})"
        )
    lines += visit_summary(env["CHICAGO_FOOD_POSTGRES_URL"])
    lines += plan_summary(env["CHICAGO_FOOD_POSTGRES_URL"])
    state = env["CHICAGO_FOOD_STATE_DIR"]
    lines += [
        f"tables: PostgreSQL schema `food`; run history and metadata: database `dagster`; all state in {state}",
        "open the Dagster UI on it: ./run ui   (then http://127.0.0.1:3000)",
        "serve the score API: ./run api    (then http://127.0.0.1:8000/v1/models/current, docs at /schema)",
        "open the monitoring dashboard: ./run dashboard   (then http://127.0.0.1:5006/dashboard)",
        "stop everything this state folder started (servers, replay, PostgreSQL): ./run stop",
    ]
    return "\n".join(lines)


def visit_summary(url: str) -> list[str]:
    """The newest visit list's top five and the pooled prospective evaluation, as lines."""
    import psycopg2

    lines: list[str] = []
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s), to_regclass(%s)", (f"{SCHEMA}.visit_list", f"{SCHEMA}.list_evaluation"))
        lists, evaluation = cursor.fetchone()
        if lists is None:
            return lines
        cursor.execute(
            f"SELECT week, rank, {PLACE_NAME}, address, score, reasons->0->>'reason',"
            f" (SELECT count(*) FROM {SCHEMA}.visit_list l WHERE l.week = v.week) FROM {SCHEMA}.visit_list v"
            f" WHERE week = (SELECT max(week) FROM {SCHEMA}.visit_list) ORDER BY rank LIMIT 5"
        )
        top = cursor.fetchall()
        if top:
            lines.append(f"visit list of the week of {top[0][0]}: {top[0][6]:,} places due, the first five:")
            for _, rank, name, address, score, reason, _ in top:
                lines.append(f"  {rank:>3}. {name or '?'}, {address or '?'}: {score:.2f} ({reason or 'no reason'})")
        else:
            cursor.execute(f"SELECT min(inspection_date), max(inspection_date) FROM {SCHEMA}.clean_inspections")
            first, last = cursor.fetchone()
            lines.append(empty_lists(first, last))
        if evaluation is not None:
            cursor.execute(
                f"SELECT weeks, coverage, canvass_coverage, roc_auc, days_earlier, first_half_real, first_half_list"
                f" FROM {SCHEMA}.list_evaluation WHERE scope = 'pooled' ORDER BY model_version DESC LIMIT 1"
            )
            pooled = cursor.fetchone()
            if pooled:
                weeks, coverage, canvass, auc, earlier, real, listed = pooled
                lines.append(
                    f"past lists judged on {weeks} weeks outside training: ROC AUC {_number(auc)}, "
                    f"{_share(coverage)} of inspections ({_share(canvass)} of canvass inspections) at listed places, "
                    f"fails found {_number(earlier, 1)} days earlier, first half {_share(real)} -> {_share(listed)}"
                )
    return lines


def plan_summary(url: str) -> list[str]:
    """The newest plan's totals (core/lists/plans.totals), its first inspector's first day in order, and how past
    plans did, as lines."""
    import pandas as pd
    import psycopg2

    from chicago_food_assets.core.lists import plans

    plan, evaluation = f"{SCHEMA}.inspection_plan", f"{SCHEMA}.plan_evaluation"
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s), to_regclass(%s)", (plan, evaluation))
        planned, judged = cursor.fetchone()
        if planned is None:
            return []
        cursor.execute(
            f"SELECT *, {PLACE_NAME} AS name, (SELECT count(*) FROM {SCHEMA}.visit_list v WHERE v.week = p.week)"
            f" AS listed FROM {plan} p"
            f" WHERE week = (SELECT max(week) FROM {plan}) ORDER BY line"
        )
        rows = pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])
        pooled = None
        if judged is not None:
            cursor.execute(
                f"SELECT weeks, planned_inspected, planned_fail_rate, other_inspected, other_fail_rate, difference_low,"
                f" difference_high FROM {evaluation} WHERE scope = 'pooled' ORDER BY model_version DESC LIMIT 1"
            )
            pooled = cursor.fetchone()
    if rows.empty:
        return ["plan: the newest plan is empty (no place on its week's list)"]
    totals = plans.totals(rows, int(rows["listed"].iloc[0]))
    lines = [
        f"plan of the week of {rows['week'].iloc[0]} ({rows['policy'].iloc[0]}): {totals['planned']} visits of the "
        f"{totals['candidates']:,} places due, {totals['inspectors']} inspectors, {totals['floor']} for the legal "
        f"floor, {totals['to_locate']} to locate first, {totals['km']:.0f} km in all"
    ]
    first = rows[(rows["inspector"] == 1) & rows["day"].notna()]
    route = first[first["day"] == first["day"].min()]
    if len(route):
        head = route.iloc[0]
        day = f"{head['day']:%A %Y-%m-%d}"
        lines.append(f"  {head['inspector_name']}, {day} ({head['day_km']:.1f} km, back to the start included):")
        lines += [
            f"  {stop.stop:>3}. {stop.name or '?'}, {stop.address or '?'}: {stop.score:.2f}, "
            f"{stop.why}, {stop.km:.1f} km from before"
            for stop in route.itertuples()
        ]
    if pooled:
        weeks, n_plan, plan_rate, n_other, other_rate, low, high = pooled
        lines.append(
            f"past plans judged on {weeks} weeks outside training: planned places failed {_share(plan_rate)} of"
            f" {n_plan} canvass inspections, the others {_share(other_rate)} of {n_other} (difference 95%"
            f" interval {_points(low)} to {_points(high)})"
        )
    return lines


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.0f} points"


def empty_lists(first: object, last: object) -> str:
    """Why every visit list is empty: no place is due a canvass within the data's span (a short file)."""
    from chicago_food_assets.core.declarations.canvass import FREQUENCY_DAYS

    span = (last - first).days if first is not None and last is not None else 0  # type: ignore[operator]
    every = ", ".join(f"risk {risk} every {days} days" for risk, days in FREQUENCY_DAYS.items())
    return (
        f"visit lists: no place is due a canvass in any list's week, so the lists (and their evaluation) are empty: "
        f"a place is due when its last canvass is older than its risk's interval ({every}), and the data covers "
        f"only {span} days ({first}..{last}). A file of a year or more gives lists."
    )


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
