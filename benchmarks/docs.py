"""`./run docs`: write what was measured into docs/, so no commit copies a number by hand.

Each generated part of a page sits between `<!-- generated: NAME -->` and `<!-- end: NAME -->` and is replaced
whole; everything else is prose. The parts and where they come from:
- `features` (docs/pipeline.md): the features' declarations (core/declarations/catalog.py);
- `card` (docs/model.md): the model card of the state folder's selected model (run `./run demo` first);
- `lists` (docs/model.md): the same state folder's visit lists, judged on the inspections that followed;
- `ablation` (docs/model.md): `python -m benchmarks.ablation`'s last table (docs/results/ablation.md);
- `targets` (docs/model.md): `python -m benchmarks.targets`'s last table (docs/results/targets.md);
- `city2014` (docs/model.md): `python -m benchmarks.city2014`'s last table (docs/results/city2014.md);
- `city2014_candidates` (docs/model.md): `python -m benchmarks.city2014 --each-candidate`'s last table
  (docs/results/city2014_candidates.md);
- `benchmarks` (docs/performance.md): `./run bench`'s last whole run (docs/results/benchmarks.json);
- `simulation` (docs/plans.md): `python -m benchmarks.plans`'s last run (docs/results/plans.json);
- `plans` (docs/plans.md): the state folder's plans, judged on the inspections that followed;
- `projection` (docs/performance.md): ten more years of one city, scaled from that run.
"""

import argparse
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from benchmarks.__main__ import tables

if TYPE_CHECKING:
    from chicago_food_assets.core.declarations.columns import Contract

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = {
    "features": "pipeline.md",
    "card": "model.md",
    "lists": "model.md",
    "ablation": "model.md",
    "targets": "model.md",
    "city2014": "model.md",
    "city2014_candidates": "model.md",
    "benchmarks": "performance.md",
    "projection": "performance.md",
    "simulation": "plans.md",
    "plans": "plans.md",
}
MORE_YEARS, PER_YEAR = 10, 19_000  # the projection: ten more years of one city, about 19,000 inspections a year
EVENT_MS = 4  # Dagster's bookkeeping per week and weekly asset, pooled and batched (the design notes' measurement)


def features() -> str:
    from chicago_food_assets.core.declarations import catalog

    lines = ["| feature | group | kind | defined as |", "| --- | --- | --- | --- |"]
    for feature in catalog.FEATURES:
        kind = "category" if feature.categorical else feature.kind
        note = " (a candidate: stored and measured by the ablation, not a model input)" if feature.candidate else ""
        if feature.input_for:
            targets = ", ".join(f"`{target}`" for target in feature.input_for)
            note = f" (an input for {targets}; a candidate for the other targets)"
        lines.append(f"| `{feature.name}` | {feature.group} | {kind} | {feature.description}{note} |")
    return "\n".join(lines)


def card() -> str:
    """The latest `selected_model` materialization's card in this state folder's Dagster instance."""
    from dagster import AssetKey, DagsterInstance

    with DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(AssetKey("selected_model"))
    if event is None or event.asset_materialization is None:
        raise SystemExit("no selected model in this state folder: run ./run demo first")
    text = str(event.asset_materialization.metadata["model_card"].value)
    return re.sub(r"(?m)^(#+) ", lambda m: "#" * (len(m.group(1)) + 2) + " ", text).strip()  # under the page's


def judged(contract: "Contract") -> pd.DataFrame | None:
    """The state folder's table of judged weeks (lists' or plans'), or None before any was built."""
    import os

    import psycopg2

    from chicago_food_assets.core.declarations.contracts import SCHEMA

    with psycopg2.connect(os.environ["CHICAGO_FOOD_POSTGRES_URL"]) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{contract.name}",))
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"SELECT {', '.join(contract.names)} FROM {SCHEMA}.{contract.name} ORDER BY week")
        return pd.DataFrame(cursor.fetchall(), columns=list(contract.names))


def pooled_first(table: pd.DataFrame) -> pd.DataFrame:
    """The pooled rows, then each judged week."""
    pooled = table["scope"] == "pooled"
    return pd.concat([table[pooled], table[~pooled]])


def lists() -> str:
    """The state folder's `list_evaluation`: pooled rows first, then each judged week, beside the model's holdout."""
    from dagster import AssetKey, DagsterInstance

    from chicago_food_assets.core.declarations.contracts import LIST_EVALUATION

    table = judged(LIST_EVALUATION)
    if table is None:
        return "_no list judged in this state folder yet: run ./run demo first_"
    with DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(AssetKey("selected_model"))
    holdout = (
        event.asset_materialization.metadata.get("holdout_roc_auc") if event and event.asset_materialization else None
    )
    shown = [
        "scope",
        "period",
        "listed",
        "inspections",
        "canvass_inspections",
        "coverage",
        "canvass_coverage",
        "inspected_on_list",
        "roc_auc",
        "precision_top_20",
        "days_earlier",
        "first_half_real",
        "first_half_list",
    ]
    pooled = table[table["scope"] == "pooled"]
    text = pooled_first(table)[shown].to_markdown(index=False, floatfmt=".3f")
    if holdout is not None and len(pooled):
        auc = pooled["roc_auc"].iloc[-1]
        text += (
            f"\n\nThe model's own holdout ROC AUC (every inspection of those weeks, scored with its real kind and "
            f"day): {float(holdout.value):.3f}; the lists', pooled: "
            f"{'n/a' if pd.isna(auc) else f'{auc:.3f}'}."
        )
    return text


def simulation() -> str:
    """`python -m benchmarks.plans`'s last run, as its table."""
    from benchmarks.plans import RESULT, markdown

    if not RESULT.exists():
        return "_not measured yet: `python -m benchmarks.plans`, then `./run docs`_"
    return markdown(json.loads(RESULT.read_text()))


def plans() -> str:
    """The state folder's `plan_evaluation`: pooled rows first, then each judged week, each with its counts."""
    from chicago_food_assets.core.declarations.contracts import PLAN_EVALUATION

    table = judged(PLAN_EVALUATION)
    if table is None:
        return "_no plan judged in this state folder yet: run ./run demo first_"
    shown = [
        "scope",
        "period",
        "policy",
        "planned",
        "planned_inspected",
        "planned_fails",
        "planned_fail_rate",
        "other_inspected",
        "other_fails",
        "other_fail_rate",
        "difference",
        "difference_low",
        "difference_high",
    ]
    return pooled_first(table)[shown].to_markdown(index=False, floatfmt=".3f")


def measured() -> dict:
    """`./run bench`'s last whole run (docs/results/benchmarks.json), or nothing measured."""
    path = DOCS / "results" / "benchmarks.json"
    return json.loads(path.read_text()) if path.exists() else {"rows": [], "breakdown": []}


def stored(name: str) -> str:
    path = DOCS / "results" / name
    if not path.exists():
        return f"_not measured yet: see how to produce {path.relative_to(DOCS.parent)} above_"
    return tables(json.loads(path.read_text())) if name.endswith(".json") else path.read_text().strip()


def weekly_assets() -> int:
    """How many assets are partitioned by week (each writes an event per week of a backfill)."""
    from chicago_food_assets.assets.partitions import weekly
    from chicago_food_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    return sum(graph.get(key).partitions_def == weekly for key in graph.get_all_asset_keys())


def projection(measured: dict) -> str:
    """Ten more years of one city, scaled linearly in rows (or weeks) from `./run bench`'s full-scale run (its saved
    results, as docs/results/benchmarks.json holds them)."""
    from benchmarks.fullscale import FIRST_STAGE, FULL_RUN
    from chicago_food_assets.automation.jobs import STAGES

    rows = {row["benchmark"]: row for row in measured["rows"]}
    full = next((row for name, row in rows.items() if name.startswith(FULL_RUN)), None)
    stages = {part["stage"]: part["wall"] for part in measured["breakdown"]}
    trains = next(stage.name for stage in STAGES if stage.trains)
    if full is None or FIRST_STAGE not in rows or trains not in stages:
        return "_not measured yet: `./run bench` (its full-scale benchmark) then `./run docs`_"
    first, last = (pd.Timestamp(day) for day in full["benchmark"].split()[-1].split(".."))
    weeks = (last - first).days // 7 + 1
    now, then = full["rows"], full["rows"] + MORE_YEARS * PER_YEAR
    grow = then / now
    raw, training = rows[FIRST_STAGE]["seconds"], stages[trains]
    more_weeks = weeks + MORE_YEARS * 52
    peak = full["peak_mb"] / 1000
    assets = weekly_assets()
    text = (
        f"- **Ten more years of one city** (about {PER_YEAR:,} inspections a year: {then:,} rows and {more_weeks:,} "
        f"weeks, against {now:,} rows and {weeks:,} weeks in `./run bench`'s feed). What grows with history is the "
        f"full backfill: raw to features is linear in rows ({raw:.0f} s now, about {raw * grow:.0f} s then); "
        f"Dagster's bookkeeping in weeks times weekly assets ({assets} x {more_weeks:,} x {EVENT_MS} ms, "
        f"about {assets * more_weeks * EVENT_MS / 1000:.0f} s); training in training rows ({training:.0f} s "
        f"now, about {training * grow:.0f} s then); and the backfill's memory, because a single-run backfill holds "
        f"its whole range in one process: {peak:.1f} GB now, about {peak * grow:.1f} GB then. That is the first "
        "limit on a small worker; the fix is a backfill policy of a few years per run "
        "(`BackfillPolicy.multi_run(max_partitions_per_run=260)`), which bounds memory by five years for a few more "
        "process starts. The weekly steady state does not grow: a week is a few hundred rows, and the features read "
        "only the history of that week's establishments, by index."
    )
    return textwrap.fill(text, 116, subsequent_indent="  ", break_on_hyphens=False, break_long_words=False)


def fill(text: str, name: str, content: str) -> str:
    pattern = re.compile(rf"(<!-- generated: {name} -->\n).*?(<!-- end: {name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"no generated part '{name}' in docs/{PAGES[name]}")
    return pattern.sub(lambda m: m.group(1) + content.rstrip() + "\n" + m.group(2), text)


def main() -> int:
    parser = argparse.ArgumentParser(prog="./run docs", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS, help="where the pages go (default: docs/ itself)")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    parts = {
        "features": features(),
        "card": card(),
        "lists": lists(),
        "ablation": stored("ablation.md"),
        "targets": stored("targets.md"),
        "city2014": stored("city2014.md"),
        "city2014_candidates": stored("city2014_candidates.md"),
        "benchmarks": stored("benchmarks.json"),
        "projection": projection(measured()),
        "simulation": simulation(),
        "plans": plans(),
    }
    pages = {page: (DOCS / page).read_text() for page in set(PAGES.values())}
    for name, content in parts.items():
        pages[PAGES[name]] = fill(pages[PAGES[name]], name, content)
    for page, text in pages.items():
        (out / page).write_text(text)
        print(f"{out / page}: {', '.join(name for name, where in PAGES.items() if where == page)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
