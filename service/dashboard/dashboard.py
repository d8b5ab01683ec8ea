"""The monitoring dashboard a model owner opens on Monday morning (Panel, hvPlot/Bokeh).

Start it with `./run dashboard`, or `panel serve service/dashboard/dashboard.py --address 127.0.0.1 --port 5006
--allow-websocket-origin=127.0.0.1:5006` with CHICAGO_FOOD_DASHBOARD_DATABASE_URL set to the read-only role's URL.
Reads score_monitoring, fairness_audit, area_audit, current_model and the week's riskiest inspection_scores; says so
plainly when they are empty or the database is down. Charts are drawn as SVG, so their text is real text (the browser
test measures that no two labels overlap).
"""

import json
import os
from dataclasses import dataclass
from typing import Any

import hvplot.pandas  # noqa: F401 - registers .hvplot
import pandas as pd
import panel as pn
import psycopg2
import psycopg2.extras

from chicago_food_assets.core.declarations.contracts import (
    AREA_AUDIT,
    CURRENT_MODEL,
    FAIRNESS_AUDIT,
    INSPECTION_SCORES,
    SCHEMA,
    SCORE_MONITORING,
)
from chicago_food_assets.core.declarations.targets import TARGETS
from chicago_food_assets.core.models.evaluation import CHICAGO_DAYS, POOLED
from chicago_food_assets.core.models.scoring import ALL, MIN_DRIFT_ROWS
from service.api.schemas import PLACE, placed
from service.dashboard.charts import (
    WIDTH,
    between,
    calibration,
    distribution,
    drift,
    fairness_plot,
    headline,
    reliability_plot,
)

MONITORED = SCORE_MONITORING.select(
    ["week", "facility_type", "count", "mean", "psi", "fail_rate", "histogram", "training_histogram"]
).names
AUDITED = FAIRNESS_AUDIT.select(["facility_type", "group_size", "fpr", "fdr", "fpr_disparity", "fdr_disparity"]).names
AREAS = AREA_AUDIT.select(
    ["area", "group_size", "flagged_share", "positive_share", "flags_per_finding", "fpr_disparity", "fdr_disparity"]
).names
AREA_HEADERS = {
    "area": "ZIP code",
    "group_size": "Inspections",
    "flagged_share": "Share of flags",
    "positive_share": "Share of findings",
    "flags_per_finding": "Flags per finding",
    "fpr_disparity": "FPR disparity",
    "fdr_disparity": "FDR disparity",
}
RISKIEST = [
    *INSPECTION_SCORES.select(["week", "rank", "inspection_id"]).names,
    *PLACE.select(["dba_name", "address"]).names,
    *INSPECTION_SCORES.select(["facility_type", "score", "reasons"]).names,
]
HEADERS = {  # what a supervisor reads above a column
    "rank": "Rank",
    "inspection_id": "Inspection",
    "dba_name": "Name",
    "address": "Address",
    "facility_type": "Facility type",
    "score": "Risk",
    "reasons": "Why",
}
TOP = 10  # riskiest places listed per week
PRESELECTED = 4  # facility types chosen at first paint: the largest


@dataclass
class Data:
    monitoring: pd.DataFrame
    fairness: pd.DataFrame
    model: pd.Series | None
    riskiest: pd.DataFrame
    areas: pd.DataFrame  # empty for a model published before the area audit


def load(url: str) -> Data:
    """Four small queries: a year of weekly monitoring is a few thousand rows."""
    with psycopg2.connect(url, connect_timeout=3) as connection, connection.cursor() as cursor:
        psycopg2.extras.register_default_jsonb(connection, loads=str)  # JSON columns as their text, parsed below
        model = _query(cursor, f"SELECT {', '.join(CURRENT_MODEL.names)} FROM {SCHEMA}.current_model LIMIT 1")
        version = model["model_version"].iloc[0] if len(model) else None
        monitoring = _query(
            cursor,
            f"SELECT {', '.join(MONITORED)} FROM {SCHEMA}.score_monitoring WHERE model_version = %s ORDER BY week",
            (version,),
        )
        fairness = _query(
            cursor,
            f"SELECT {', '.join(AUDITED)} FROM {SCHEMA}.fairness_audit WHERE model_version = %s "
            "ORDER BY group_size DESC",
            (version,),
        )
        riskiest = _query(
            cursor,
            f"SELECT {', '.join(RISKIEST)} FROM {placed('inspection_scores')} t"
            " WHERE model_version = %s AND rank <= %s",
            (version, TOP),
        )
        cursor.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.area_audit",))
        areas = (
            _query(
                cursor,
                f"SELECT {', '.join(AREAS)} FROM {SCHEMA}.area_audit WHERE model_version = %s "
                "ORDER BY flags_per_finding DESC NULLS LAST",
                (version,),
            )
            if cursor.fetchone()[0]
            else pd.DataFrame(columns=list(AREAS))
        )
    monitoring["week"] = pd.to_datetime(monitoring["week"])
    riskiest["week"] = pd.to_datetime(riskiest["week"])
    for name in ("training_from", "holdout_from", "holdout_to"):
        model[name] = pd.to_datetime(model[name])
    return Data(monitoring, fairness, model.iloc[0] if len(model) else None, riskiest, areas)


def _query(cursor: "psycopg2.extensions.cursor", statement: str, params: tuple = ()) -> pd.DataFrame:
    cursor.execute(statement, params)
    return pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])


# -- text -----------------------------------------------------------------------------------------------------------
def summary(numbers: dict[str, Any], first: pd.Timestamp, last: pd.Timestamp) -> str:
    if not numbers["scores"]:
        return f"**No scores** for the chosen facility types between {first:%Y-%m-%d} and {last:%Y-%m-%d}."
    drift_text = (
        f"largest drift PSI **{numbers['drift'][0]:.2f}** ({numbers['drift'][1]}, week of "
        f"{numbers['drift'][2]:%Y-%m-%d})"
        if numbers["drift"]
        else f"no group of {MIN_DRIFT_ROWS}+ scores to judge drift on"
    )
    return (
        f"Weeks **{first:%Y-%m-%d}** to **{last:%Y-%m-%d}**: <span id='scores'>{numbers['scores']:,}</span> scores, "
        f"mean score **{numbers['mean_score']:.3f}**, fail rate **{numbers['fail_rate']:.3f}**; {drift_text}."
    )


def model_card(model: pd.Series) -> str:
    metrics = json.loads(model["metrics"])
    best = metrics[model["name"]]
    rows = "".join(
        f"| {name} | {m['roc_auc']:.3f} | {m['days_earlier']:.1f} | {m['brier']:.3f} |\n" for name, m in metrics.items()
    )
    chosen = model.get("selected_because") or f"holdout {model['selected_by']}"
    target = TARGETS[model["target"]]
    city = [
        row
        for row in json.loads(model.get("chicago") or "[]")
        if row["model"] == model["name"] and row["cutoff"] == POOLED
    ]
    chicago = (
        f" Under the City of Chicago's protocol (canvass inspections, each window's first {CHICAGO_DAYS} days): "
        f"ROC AUC **{city[0]['roc_auc'] or float('nan'):.3f}**, **{city[0]['days_earlier']:.1f} days earlier**, "
        f"first half {city[0]['first_half_real']:.0%} -> {city[0]['first_half_model']:.0%}."
        if city
        else ""
    )
    return (
        f"### Model <span id='model-version'>{model['model_version']}</span>\n"
        f"{model['name']}, selected by {chosen}; it predicts that <span id='model-target'>the inspection "
        f"{target.event}</span> (`{target.name}`); trained on weeks from {model['training_from']:%Y-%m-%d} "
        f"to {model['holdout_from']:%Y-%m-%d}, judged on {model['holdout_from']:%Y-%m-%d} to "
        f"{model['holdout_to']:%Y-%m-%d}. "
        f"Holdout ROC AUC **{best['roc_auc']:.3f}**, {target.found} found **{best['days_earlier']:.1f} days "
        f"earlier**.{chicago}\n\n"
        f"| model | ROC AUC | days earlier | Brier |\n| --- | --- | --- | --- |\n{rows}"
    )


BACKTEST_WIDTHS = {
    "model": 210,
    "cutoff": 100,
    "rows": 70,
    "ROC AUC": 95,
    "95% interval": 125,
    "precision@10%": 160,
    "days earlier": 120,
}


def backtest_frame(model: pd.Series) -> pd.DataFrame:
    """The published backtest: each model's cutoffs and pooled row, ROC AUC with its 95% interval."""
    rows = pd.DataFrame(json.loads(model.get("backtest") or "[]"))
    if rows.empty:
        return pd.DataFrame({"backtest": ["not published with this model"]})
    interval = rows["roc_auc_low"].map("{:.3f}".format) + "-" + rows["roc_auc_high"].map("{:.3f}".format)
    return pd.DataFrame(
        {
            "model": rows["model"],
            "cutoff": rows["cutoff"],
            "rows": rows["rows"],
            "ROC AUC": rows["roc_auc"].round(3),
            "95% interval": interval,
            "precision@10%": rows["precision_top_10pct"].round(3),
            "days earlier": rows["days_earlier"].round(1),
        }
    )


def reason_text(column: pd.Series) -> pd.Series:
    """The stored reasons (JSON) of a few rows, as one line each."""
    return column.map(lambda text: "; ".join(r["reason"] for r in json.loads(text)) if text else "")


def notice(text: str, kind: str = "warning") -> pn.pane.Alert:
    return pn.pane.Alert(text, alert_type=kind, css_classes=["notice"])


def nothing_to_show(title: str, what: str, error: Exception | None = None) -> pn.template.BootstrapTemplate:
    """A page of its own saying why there is no `what` ("visit list", "plan") to show: none built yet, or the
    database (`error`) not reachable."""
    if error is None:
        return pn.template.BootstrapTemplate(title=title, main=[notice(f"No {what} has been built yet.")])
    built = isinstance(error, psycopg2.errors.UndefinedTable)
    reason = f"no {what} has been built yet" if built else "the database is not reachable"
    return pn.template.BootstrapTemplate(title=title, main=[notice(f"No {what} to show: {reason}.", "danger")])


def later(chart: Any) -> pn.viewable.ServableMixin:
    """A chart below the first one, drawn once the page is in the browser (Panel's deferred load): the page and its
    first chart come first, not after every chart's Bokeh model is built (3.2 s of a 3.9 s first paint)."""
    return pn.panel(chart, defer_load=True)


def page(main: list, sidebar: list | None = None) -> pn.template.BootstrapTemplate:
    template = pn.template.BootstrapTemplate(
        title="Inspection risk monitoring", sidebar=sidebar or [], main=main, sidebar_width=300
    )
    return template


def build(url: str) -> pn.template.BootstrapTemplate:
    try:
        data = load(url)
    except (psycopg2.OperationalError, psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn) as error:
        reason = {
            psycopg2.errors.UndefinedTable: "the pipeline has not published its tables yet",
            psycopg2.errors.UndefinedColumn: "the published tables predate this version: run the pipeline again",
        }.get(type(error), "the database is not reachable")
        first_line = str(error).strip().splitlines()[0]
        return page([notice(f"No data to show: {reason}. Reload this page once it is back. ({first_line})", "danger")])
    if data.model is None or data.monitoring.empty:
        return page([notice("No scores yet: the monitoring table is empty. Run the pipeline (`./run demo`), reload.")])

    weeks = sorted(data.monitoring["week"].dt.date.unique())
    types = (
        data.monitoring[data.monitoring["facility_type"] != ALL]
        .groupby("facility_type")["count"]
        .sum()
        .sort_values(ascending=False)
        .index.tolist()
    )
    fit = {"sizing_mode": "stretch_width"}
    first = pn.widgets.Select(name="First week", options=weeks, value=weeks[max(len(weeks) - 12, 0)], **fit)
    last = pn.widgets.Select(name="Last week", options=weeks, value=weeks[-1], **fit)
    chosen = pn.widgets.MultiChoice(
        name="Facility types (type to search)", options=types, value=types[:PRESELECTED], solid=False, **fit
    )

    def numbers(first_week: Any, last_week: Any, facility_types: list[str]) -> str:
        low, high = pd.Timestamp(min(first_week, last_week)), pd.Timestamp(max(first_week, last_week))
        return summary(headline(between(data.monitoring, low, high), facility_types), low, high)

    def distributions(first_week: object, last_week: object, facility_types: list[str]) -> object:
        if not facility_types:
            return notice("Choose at least one facility type in the sidebar.")
        rows = between(data.monitoring, first_week, last_week)
        charts = [distribution(rows, name) for name in facility_types if (rows["facility_type"] == name).any()]
        if not charts:
            return notice("No scores of the chosen facility types in these weeks.")
        # the first type's chart with the page, the others once it is in the browser (`later` takes a function: Panel
        # takes a functools.partial for an object to show)
        return pn.Column(pn.pane.HoloViews(charts[0]), *(later(lambda c=c: pn.pane.HoloViews(c)) for c in charts[1:]))

    def drifts(facility_types: list[str]) -> object:
        if not facility_types:
            return notice("Choose at least one facility type to see its drift.")
        return pn.pane.HoloViews(drift(data.monitoring, facility_types))

    def riskiest_title(last_week: Any) -> str:
        return f"## Riskiest places in the week of {last_week}"

    def riskiest(last_week: Any) -> object:
        week = data.riskiest[data.riskiest["week"] == pd.Timestamp(last_week)].sort_values("rank")
        if week.empty:
            return notice(f"No scores in the week of {last_week}.")
        table = week.drop(columns=["week"]).assign(score=week["score"].round(3), reasons=reason_text(week["reasons"]))
        return pn.widgets.Tabulator(
            table,
            show_index=False,
            disabled=True,
            width=WIDTH,
            name="riskiest",
            formatters={"inspection_id": {"type": "plaintext"}, "reasons": {"type": "textarea"}},
            titles=HEADERS,
            widths={
                "rank": 60,
                "inspection_id": 95,
                "dba_name": 170,
                "address": 170,
                "facility_type": 120,
                "score": 60,
                "reasons": 215,
            },
            configuration={"columnDefaults": {"headerSort": False}},
        )

    def calibrations() -> object:
        reliability = reliability_plot(data.model)
        return pn.Column(
            pn.pane.HoloViews(reliability)
            if reliability is not None
            else notice("This model was published without a reliability table."),
            pn.pane.HoloViews(calibration(data.monitoring)),
        )

    def fairness() -> object:
        if data.fairness.empty:
            return notice("No fairness audit for this model.")
        return pn.pane.HoloViews(fairness_plot(data.fairness))

    return page(
        sidebar=[first, last, chosen],
        main=[
            pn.Row(
                pn.pane.Markdown(model_card(data.model), width=520),
                pn.pane.Markdown(pn.bind(numbers, first, last, chosen), css_classes=["summary"], width=360),
            ),
            "## Score distribution against training",
            pn.panel(pn.bind(distributions, first, last, chosen)),
            "## Drift over time",
            later(pn.bind(drifts, chosen)),
            "## Rolling-origin backtest",
            pn.widgets.Tabulator(
                backtest_frame(data.model),
                show_index=False,
                disabled=True,
                width=WIDTH,
                widths=BACKTEST_WIDTHS,
                configuration={"columnDefaults": {"headerSort": False}},  # room for the headers' words
                name="backtest",
            ),
            "## Calibration",
            later(calibrations),
            "## Fairness of the current model",
            later(fairness),
            "## Fairness by area",
            pn.pane.Markdown(
                "Each ZIP code's share of the flags (the top of the holdout as deployed) against its share of what "
                "the inspections found: above 1 flags per finding, flagged beyond its findings. Disparities against "
                "the largest area; within 0.8-1.25 counts as fair."
            ),
            pn.widgets.Tabulator(
                data.areas.rename(columns=AREA_HEADERS).round(3),
                show_index=False,
                disabled=True,
                width=WIDTH,
                height=360,
                name="areas",
            )
            if not data.areas.empty
            else notice("No audit by area for this model (published before it existed): retrain to get one."),
            pn.pane.Markdown(pn.bind(riskiest_title, last)),
            pn.panel(pn.bind(riskiest, last)),
        ],
    )


if __name__.startswith("bokeh"):  # under `panel serve`
    pn.extension("tabulator")
    build(os.environ["CHICAGO_FOOD_DASHBOARD_DATABASE_URL"]).servable(title="Inspection risk monitoring")
