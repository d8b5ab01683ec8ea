"""`python -m benchmarks.plans`: the plan policies judged at equal capacity on a simulated year of a generated city.

A city of places with a persistent latent risk (`local/generate`'s draw: real Chicago places and coordinates, the
sample's risk categories) is stepped forward a week at a time. Each week:
1. the places due a canvass (the frequency rule, as the visit list counts them) are the candidates;
2. the platform's model, trained, selected and calibrated by the platform's own code on the simulated inspections
   seen so far (as clean rows: never the latent risk), scores them as planned canvass inspections on the Monday
   (`own.build`'s features, as the visit list does);
3. each policy (`due`, `risk`, `balanced`: core/lists/plans.choose, the platform's own code) plans the same number of
   visits, and the plan is routed over the team (core/lists/plans.build: territories, OR-Tools routes);
4. every planned visit's outcome is drawn from the place's latent risk and the time since its last inspection.
Each policy has its own copy of the city (who was inspected when, what was found), so a policy lives with its own
backlog. Every assumption is a field of `Assumptions` and is written into docs/plans.md with the table.

Reported per policy: fails and critical violations found per visit, days overdue of the risk 1 places (median and
95th percentile over every place and week), km per visit routed and in list order, and how far the share of visits
per ZIP code is from the share of the city's expected fails there (half the sum of the differences: 0 = visits go
where the fails are). Seeded: the same arguments write the same bytes (`--out`).
"""

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from benchmarks.report import record
from chicago_food_assets.core.declarations import canvass
from chicago_food_assets.core.declarations.contracts import VISIT_LIST
from chicago_food_assets.core.features import own
from chicago_food_assets.core.lists import plans, routes, visits
from chicago_food_assets.core.models import selection, training

if TYPE_CHECKING:
    from chicago_food_assets.core.models.training import Selected

RESULT = Path(__file__).resolve().parent.parent / "docs" / "results" / "plans.json"
FRONTIER = "160:0.5,180:0.4,90:0.3"  # floor_days:floor_share of `balanced` runs beside the defaults' (120:0.55)


@dataclass(frozen=True)
class Assumptions:
    """What the simulation assumes about the city and its inspections: each one a setting."""

    places: int = 16_000  # active food establishments (Chicago's canvass population is about 15,000-17,000)
    weeks: int = 52  # the simulated year
    capacity: int = 170  # canvass visits a week: the City's team (the sample's 2013 record, 8,811 a year)
    visits_per_day: int = 4
    days: int = 5
    # P(fail) of a visit: logistic in base + latent_weight * latent + time_weight * log1p(years since last inspection)
    # + risk_effect[risk]; the latent risk is standard normal and persistent (the generator's).
    base: float = -1.75
    latent_weight: float = 1.0
    time_weight: float = 0.6  # places left longer fail more
    risk_effect: dict[int, float] = field(default_factory=lambda: {1: 0.25, 2: 0.0, 3: -0.35})
    critical_shift: float = -0.6  # P(critical) = logistic(logit P(fail) + critical_shift): criticals are fails
    history: int = 3  # inspections each place had before the year (drawn from the same law)
    overdue_spread: float = 1.6  # days since the last inspection at the start: up to this x the risk's interval
    refit_weeks: int = 13  # the model is trained again on every inspection seen so far each quarter
    bootstrap: int = 50  # resamples of the model selection's ROC AUC intervals (the platform's default: 200)
    seed: int = 0


def logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def city(a: Assumptions, rng: np.random.Generator) -> pd.DataFrame:
    """The places: real Chicago names, addresses, ZIP codes and coordinates (jittered), a risk category in the
    sample's shares (risk is per place), a latent risk."""
    from chicago_food_assets.local.generate import pools, read_sample

    pool = pools(read_sample()).places.dropna(subset=["zip"])
    place = pool.iloc[rng.integers(0, len(pool), a.places)].reset_index(drop=True)
    risk = rng.choice([1, 2, 3], size=a.places, p=[0.62, 0.26, 0.12])
    return pd.DataFrame(
        {
            "establishment": [f"sim:{i}" for i in range(a.places)],
            "license": np.arange(1, a.places + 1),
            "dba_name": place["dba_name"],
            "aka_name": None,
            "address": place["address"],
            "zip": place["zip"].astype(str).str[:5],
            "latitude": place["latitude"].astype(float) + rng.normal(0, 4e-4, a.places),
            "longitude": place["longitude"].astype(float) + rng.normal(0, 4e-4, a.places),
            "facility_type": "Restaurant",
            "chain": None,  # no chains: each place is its own
            "risk": risk,
            "latent": rng.standard_normal(a.places),
        }
    )


def fail_logit(a: Assumptions, latent: np.ndarray, risk: np.ndarray, days_since: np.ndarray) -> np.ndarray:
    effect = pd.Series(risk).map(a.risk_effect).to_numpy(dtype=float)
    return a.base + a.latent_weight * latent + a.time_weight * np.log1p(np.maximum(days_since, 0) / 365.0) + effect


@dataclass
class State:
    """One policy's city: each place's last inspection, and every inspection so far as clean rows (the model's only
    view: the platform's features are built from them)."""

    last: np.ndarray  # day number of the last inspection
    log: list[pd.DataFrame]  # every inspection, as rows of the clean table
    next_id: int = 1


def start(a: Assumptions, places: pd.DataFrame, day0: int, rng: np.random.Generator) -> State:
    """Each place's history before the year: `history` inspections at its risk's interval, the last one up to
    `overdue_spread` intervals ago (a backlog, as the City has), outcomes from the same law."""
    interval = canvass.frequency(places["risk"].astype("Int64"))
    last = day0 - (rng.random(len(places)) * a.overdue_spread * interval).astype(np.int64)
    state = State(last.copy(), [])
    latent, risk = places["latent"].to_numpy(), places["risk"].to_numpy()
    for k in range(a.history, 0, -1):  # the few past inspections, oldest first
        day = last - ((k - 1) * interval).astype(np.int64)
        logit = fail_logit(a, latent, risk, np.full(len(places), interval))
        u = rng.random(len(places))
        observe(state, np.arange(len(places)), day, u < logistic(logit), u < logistic(logit + a.critical_shift), places)
    return state


def observe(
    state: State, who: np.ndarray, day: np.ndarray, failed: np.ndarray, critical: np.ndarray, places: pd.DataFrame
) -> None:
    """Canvass inspections of `who` on `day` with their outcomes, logged as clean rows: the visit list's planned
    inspections (`visits.planned`) with what was found (a critical violation is one critical citation; nothing else
    is cited)."""
    n = len(who)
    when = pd.Series(pd.to_datetime(np.asarray(day, dtype="datetime64[D]")).as_unit("ns"))
    counts = {name: pd.array(np.zeros(n, dtype=np.int16), dtype="Int16") for name in visits.COUNTS}
    counts["critical_count"] = pd.array(np.asarray(critical, dtype=np.int16), dtype="Int16")
    rows = visits.planned(places.iloc[who], when).assign(
        inspection_id=np.arange(state.next_id, state.next_id + n, dtype=np.int64),
        results=np.where(failed, "Fail", "Pass"),
        failed=np.asarray(failed, dtype=bool),
        **counts,
    )
    state.log.append(rows)
    state.next_id += n
    state.last[who] = day


def history(state: State) -> pd.DataFrame:
    """Every inspection so far, one table (kept as one, so the next week only appends)."""
    if len(state.log) > 1:
        state.log[:] = [pd.concat(state.log, ignore_index=True)]
    return state.log[0]


def fit(state: State, a: Assumptions) -> "Selected":
    """The platform's model on the inspections seen so far: the features of every one (`own.build`), the candidates
    trained and judged as the training assets do (`training.fit`: the last `holdout_weeks` weeks held out, no
    earlier backtest windows), the one `selection.choose` picks, refitted on every week and calibrated."""
    table = own.build(history(state))
    settings = replace(training.Settings(), backtest_cutoffs=1, bootstrap=a.bootstrap, seed=a.seed)
    return selection.choose(training.fit(table, settings), table, refit=True)


def simulate(
    a: Assumptions, policies: tuple[str, ...] = plans.POLICIES, settings: plans.PlanSettings | None = None
) -> dict:
    """A year of the city under each policy (the rest of `settings` as given; default: the platform's defaults)."""
    settings = settings or plans.PlanSettings()
    rng = np.random.default_rng(a.seed)
    places = city(a, rng)
    day0 = int(np.datetime64("2025-01-06", "D").astype(np.int64))  # a Monday
    interval = canvass.frequency(places["risk"].astype("Int64"))
    expected = logistic(fail_logit(a, places["latent"].to_numpy(), places["risk"].to_numpy(), interval))
    where_fails = pd.Series(expected).groupby(places["zip"].to_numpy()).sum()
    where_fails /= where_fails.sum()
    crew = plans.Team(-(-a.capacity // (a.visits_per_day * a.days)), a.visits_per_day, a.days)
    route_settings = routes.RouteSettings(a.visits_per_day, a.days, time_limit_seconds=2.0)
    results = {}
    for policy in policies:
        draw = np.random.default_rng([a.seed, 1])  # the same draws for every policy's outcomes and start
        state = start(a, places, day0, draw)
        model = fit(state, a)
        chosen_models = [model.name]
        found, critical, visits_made, km, list_km, routed, overdue_r1 = 0, 0, 0, 0.0, 0.0, 0, []
        zips_visited: list[np.ndarray] = []
        for week in range(a.weeks):  # a year, one week after the other: each week depends on the last
            monday = day0 + 7 * week
            if week and week % a.refit_weeks == 0:
                model = fit(state, a)
                chosen_models.append(model.name)
            due_day = state.last + interval.astype(np.int64)
            overdue = monday - due_day
            r1 = places["risk"].to_numpy() == 1
            overdue_r1.append(np.maximum(overdue[r1], 0))
            who = np.flatnonzero(due_day < monday + 7)
            # scored as the visit list scores: planned canvass inspections on the Monday, the platform's features
            seen = visits.planned_features(
                places.iloc[who], pd.Timestamp(np.datetime64(monday, "D")), history(state), None
            )
            candidates = list_of(places, who, model.score(seen), overdue[who], monday)
            plan = plans.build(
                candidates, min(a.capacity, len(candidates)), crew, replace(settings, policy=policy), route_settings
            )
            chosen = plan["license"].to_numpy(dtype=np.int64) - 1
            day = ((plan["day"] - pd.Timestamp(0)).dt.days).fillna(monday).to_numpy(dtype=np.int64)
            logit = fail_logit(
                a, places["latent"].to_numpy()[chosen], places["risk"].to_numpy()[chosen], day - state.last[chosen]
            )
            u = draw.random(len(chosen))
            failed, cited = u < logistic(logit), u < logistic(logit + a.critical_shift)
            found += int(failed.sum())
            critical += int(cited.sum())
            visits_made += len(chosen)
            week_totals = plans.totals(plan, len(candidates))
            km += week_totals["km"]
            list_km += week_totals["list_order_km"]
            routed += int(week_totals["routed"])
            zips_visited.append(places["zip"].to_numpy()[chosen])
            observe(state, chosen, day, failed, cited, places)
        overdue_all = np.concatenate(overdue_r1)
        visit_share = pd.Series(np.concatenate(zips_visited)).value_counts(normalize=True)
        gap = 0.5 * float(visit_share.reindex(where_fails.index, fill_value=0).sub(where_fails).abs().sum())
        results[policy] = {
            "visits": visits_made,
            "fails_per_visit": round(found / visits_made, 4),
            "critical_per_visit": round(critical / visits_made, 4),
            "risk_1_overdue_median": float(np.median(overdue_all)),
            "risk_1_overdue_p95": float(np.percentile(overdue_all, 95)),
            "km_per_visit": round(km / routed, 3),
            "list_order_km_per_visit": round(list_km / routed, 3),
            "area_gap": round(gap, 4),
            "models": chosen_models,  # the candidate selection chose at each fit
        }
    return {"assumptions": asdict(a), "policies": results}


def frontier_point(a: Assumptions, floor_days: int, floor_share: float) -> dict:
    """`balanced`'s year with another legal floor (the rest of the platform's defaults)."""
    settings = plans.PlanSettings(floor_days=floor_days, floor_share=floor_share)
    return simulate(a, ("balanced",), settings)["policies"]["balanced"]


def list_of(places: pd.DataFrame, who: np.ndarray, score: np.ndarray, overdue: np.ndarray, monday: int) -> pd.DataFrame:
    """The week's candidates shaped as a visit list (rank by score), for the platform's plan functions."""
    week = pd.Timestamp(np.datetime64(monday, "D"))
    rows = places.iloc[who].reset_index(drop=True)
    order = np.argsort(-score, kind="stable")
    rank = np.empty(len(who), dtype=np.int64)
    rank[order] = np.arange(1, len(who) + 1)
    frame = rows.assign(
        week=week, rank=rank, on_map=True, last_inspection=week, last_canvass=week, last_result="Pass",
        due_date=week, days_overdue=overdue.astype(np.int64), score=score, reasons=None, model_version="simulated",
        period="prediction",
    )  # fmt: skip
    return VISIT_LIST.conform(frame[list(VISIT_LIST.names)])


def one_week(a: Assumptions, candidates: int = 8_000) -> float:
    """A week's plan for a city-sized list (`candidates` places due, the default team at the City's capacity): the
    step's own code, choice and routes, timed."""
    rng = np.random.default_rng(a.seed)
    places = city(replace(a, places=candidates), rng)
    week = list_of(
        places, np.arange(candidates), rng.random(candidates), rng.integers(-5, 400, candidates), 20_458
    )  # a Monday
    settings = plans.PlanSettings(capacity=a.capacity)
    crew, capacity = plans.team(settings, None)
    began = time.perf_counter()
    plan = plans.build(week, capacity, crew, settings, routes.RouteSettings(a.visits_per_day, a.days))
    seconds = time.perf_counter() - began
    record(
        f"a week's plan: {candidates:,} candidates, {len(plan)} visits, {crew.inspectors} inspectors",
        seconds,
        "< 30 s",
        seconds < 30,
        candidates,
    )
    return seconds


def markdown(result: dict) -> str:
    lines = [
        "| policy | visits | fails per visit | critical per visit | risk 1 days overdue, median | risk 1 days overdue, "
        "95th pct | km per visit, routed | km per visit, list order | visits vs fails by ZIP (gap) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for policy, r in result["policies"].items():
        lines.append(
            f"| {policy} | {r['visits']:,} | {r['fails_per_visit']:.3f} | {r['critical_per_visit']:.3f} | "
            f"{r['risk_1_overdue_median']:.0f} | {r['risk_1_overdue_p95']:.0f} | {r['km_per_visit']:.2f} | "
            f"{r['list_order_km_per_visit']:.2f} | {r['area_gap']:.3f} |"
        )
    p = result["policies"]
    fits = [name for r in p.values() for name in r.get("models", [])]
    if fits:
        counts = pd.Series(fits).value_counts()
        lines.append(
            "\nThe model the platform's selection chose at each of the year's fits: "
            + ", ".join(f"{name} {count} times" for name, count in counts.items())
            + "."
        )
    if "due" in p and "balanced" in p:
        gain = p["balanced"]["fails_per_visit"] / p["due"]["fails_per_visit"] - 1
        saved = 1 - p["balanced"]["km_per_visit"] / p["balanced"]["list_order_km_per_visit"]
        lines.append(
            f"\n`balanced` finds {gain:+.0%} fails per visit against `due`; its routed days travel {saved:.0%} fewer "
            "km per visit than the same stops in list order."
        )
    if result.get("frontier"):
        lines += [
            "\n`balanced` at other floors (`--frontier`): what the legal floor costs in fails found, and what it buys "
            "in days overdue (`due`'s 95th percentile is the bound the defaults keep).\n",
            "| floor_days | floor_share | fails per visit | against `due` | risk 1 days overdue, median | 95th pct |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        base = p["due"]["fails_per_visit"] if "due" in p else None
        for r in result["frontier"]:
            against = f"{r['fails_per_visit'] / base - 1:+.0%}" if base else "-"
            lines.append(
                f"| {r['floor_days']} | {r['floor_share']:.2f} | {r['fails_per_visit']:.3f} | {against} | "
                f"{r['risk_1_overdue_median']:.0f} | {r['risk_1_overdue_p95']:.0f} |"
            )
    lines.append("\nAssumptions (each a setting of `benchmarks/plans.py`'s `Assumptions`):\n")
    lines += [f"- `{k}`: {v}" for k, v in result["assumptions"].items()]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plans", description=__doc__.splitlines()[0])
    parser.add_argument("--places", type=int, default=Assumptions.places)
    parser.add_argument("--weeks", type=int, default=Assumptions.weeks)
    parser.add_argument("--capacity", type=int, default=Assumptions.capacity)
    parser.add_argument("--seed", type=int, default=Assumptions.seed)
    parser.add_argument(
        "--frontier",
        default=FRONTIER,
        help="`balanced` also run at these floors, DAYS:SHARE comma-separated ('' for none; default %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=RESULT, help="where the result goes (JSON; docs: ./run docs)")
    args = parser.parse_args()
    floors = [(int(d), float(f)) for d, f in (item.split(":") for item in args.frontier.split(",") if item)]
    a = replace(Assumptions(), places=args.places, weeks=args.weeks, capacity=args.capacity, seed=args.seed)
    one_week(a)
    began = time.perf_counter()
    result = simulate(a)
    seconds = time.perf_counter() - began
    result["frontier"] = [
        {"floor_days": days, "floor_share": share, **frontier_point(a, days, share)} for days, share in floors
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(markdown(result))
    print(f"\n({a.weeks} weeks of {a.places:,} places in {seconds:.0f} s; saved to {args.out})")
    record(f"plan simulator, {a.weeks} weeks of {a.places:,} places", seconds, "< 5 min", seconds < 300)
    return 0


if __name__ == "__main__":
    sys.exit(main())
