"""`python -m benchmarks.city2014`: the City of Chicago's own 2014 evaluation, through this platform as a user runs it.

The City judged its model on the canvass inspections of 2014-09-02..2014-10-31 (1,637 of them, 258 with a critical
violation), its model trained on the inspections before. Here:
1. `./run demo` builds a state folder from the bundled sample up to the last week of that window, with a training
   config (the training assets' run config, as a user gives it): the holdout starts on the week of 2014-09-01, so
   every model is trained on inspections up to 2014-08-31; the target is `critical_found`;
2. the window's inspections are read back as the platform scored them (`food.inspection_scores`, the selected
   model's holdout scores) with their outcomes (`food.clean_inspections`), and the City's population selected by
   its rules: canvass inspections, not re-inspections, dated in the window, with recorded violations;
3. they are judged by the City's simulation (`evaluation.city_reorder`: score order, ties by inspection id, the
   k-th takes the k-th earliest date; the first half by the median date against the median score), beside the
   City's published figures.
    python -m benchmarks.city2014 [--state DIR]   (about a minute; writes docs/results/city2014.md for ./run docs)
    python -m benchmarks.city2014 --candidates NAME...   (the same with candidate features read too; printed only)
    python -m benchmarks.city2014 --each-candidate   (each candidate alone: docs/results/city2014_candidates.md)
"""

import argparse
import csv
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import psycopg2

from chicago_food_assets.core.declarations import catalog
from chicago_food_assets.core.declarations.contracts import SCHEMA
from chicago_food_assets.core.models import evaluation
from chicago_food_assets.local.environment import PROJECT
from chicago_food_assets.local.sample import PROVENANCE, SOURCE

RESULT = Path(__file__).resolve().parent.parent / "docs" / "results" / "city2014.md"
CANDIDATES_RESULT = RESULT.with_name("city2014_candidates.md")
FIRST, LAST = "2014-09-02", "2014-10-31"  # the City's test window
CUTOFF = "2014-09-01"  # the holdout's first week: training ends on 2014-08-31, before the window's first day
LAST_WEEK = "2014-10-27"  # the week holding the window's last day
CITY_ROWS, CITY_POSITIVES = 1_637, 258
# The City kept places licensed as retail food establishments (business licences: not public here). The nearest public
# rule: leave out the facility types licensed otherwise (schools, day cares, hospitals, care homes).
NOT_RETAIL = r"school|day ?care|children|hospital|long term care|nursing|rehab"
TRAINING = f"""ops:
  trained_models:
    config:
      cutoff: "{CUTOFF}"
      holdout_weeks: 9
      target: critical_found
"""
# What the City published (its REPORTS/ and the measurement of its public model data), beside ours.
PUBLISHED = (
    ("City of Chicago, glmnet (2014, with its inspector feature)", "1,637", "7.44", "55% -> 69%", "-"),
    ("City of Chicago, XGBoost (later, with its inspector feature)", "1,637", "7.79", "-", "0.679"),
    ("City's features without the inspector (measured on its published model data)", "1,637", "about 2.5", "-", "0.58"),
)


def build(state: Path, candidates: tuple[str, ...] = ()) -> float:
    """The demo up to the window's last week with the City's training config (and `candidates`); its wall time."""
    config = state.parent / "city2014.yaml"
    added = "".join(f"\n        - {name}" for name in candidates)
    config.write_text(TRAINING + (f"      candidates:{added}\n" if candidates else ""))
    env = {**os.environ, "CHICAGO_FOOD_STATE_DIR": str(state)}
    began = time.perf_counter()
    done = subprocess.run(
        ["./run", "demo", "--last", LAST_WEEK, "--train-config", str(config)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"./run demo failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - began


def database_url(state: Path) -> str:
    exported = subprocess.run(
        ["./run", "env"],
        cwd=PROJECT,
        env={**os.environ, "CHICAGO_FOOD_STATE_DIR": str(state)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(re.findall(r"^export (\w+)='?([^'\n]*)'?$", exported, flags=re.M))["CHICAGO_FOOD_POSTGRES_URL"]


def window(url: str) -> tuple[pd.DataFrame, dict]:
    """The window's scored inspections with what the City's selection reads, and the model that scored them."""
    query = f"""
        SELECT s.inspection_id, s.inspection_date, s.score, s.period, s.model_version, c.facility_type,
               c.inspection_kind, c.reinspection, c.critical_count, c.results
        FROM {SCHEMA}.inspection_scores s JOIN {SCHEMA}.clean_inspections c USING (inspection_id)
        WHERE s.inspection_date BETWEEN %s AND %s
    """
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(query, (FIRST, LAST))
        rows = pd.DataFrame(cursor.fetchall(), columns=[d.name for d in cursor.description])
        cursor.execute(f"SELECT name, model_version, holdout_from, holdout_to FROM {SCHEMA}.current_model")
        name, version, holdout_from, holdout_to = cursor.fetchone()
    model = {"name": name, "version": version, "holdout_from": str(holdout_from), "holdout_to": str(holdout_to)}
    return rows, model


def population(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, int]]]:
    """The City's rules, one at a time, with how many inspections each leaves."""
    steps = [("inspections of the window scored by the platform", len(rows))]
    rows = rows[(rows["inspection_kind"] == "canvass").to_numpy(dtype=bool)]
    steps.append(("canvass inspections", len(rows)))
    rows = rows[~rows["reinspection"].to_numpy(dtype=bool)]
    steps.append(("not re-inspections", len(rows)))
    rows = rows[rows["critical_count"].notna().to_numpy(dtype=bool)]
    steps.append(("with recorded violations (the target known)", len(rows)))
    other = rows["facility_type"].fillna("").str.contains(NOT_RETAIL, case=False, regex=True).to_numpy(dtype=bool)
    rows = rows[~other]
    steps.append(("retail food (not schools, day cares, hospitals or care homes)", len(rows)))
    return rows.reset_index(drop=True), steps


def from_city_table(ids: pd.Series, source: Path = SOURCE) -> int | None:
    """How many of `ids` the development sample took from the City's own model table (its source #10)."""
    path = source / PROVENANCE
    if not path.exists():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        city = {row["inspection_id"] for row in rows if row["source_repo"] == "Chicago/food-inspections-evaluation"}
    return int(ids.astype(str).isin(city).sum())


def judge(rows: pd.DataFrame) -> dict:
    from sklearn.metrics import roc_auc_score

    positive = rows["critical_count"].to_numpy(dtype=float) > 0
    moved = evaluation.city_reorder(
        rows["inspection_id"], pd.to_datetime(rows["inspection_date"]).to_numpy(), positive, rows["score"]
    )
    return {
        "rows": len(rows),
        "positives": int(positive.sum()),
        "roc_auc": float(roc_auc_score(positive, rows["score"])),
        **moved,
    }


def markdown(result: dict) -> str:
    ours = result["ours"]
    lines = [
        "| model | inspections | days earlier | first half | ROC AUC |",
        "| --- | ---: | ---: | --- | ---: |",
        f"| this platform, public data only ({result['model']['name']}, `{result['model']['version']}`) | "
        f"{ours['rows']:,} | {ours['days_earlier']:.2f} | {ours['first_half_real']:.0%} -> "
        f"{ours['first_half_model']:.0%} | {ours['roc_auc']:.3f} |",
        *(f"| {name} | {rows} | {days} | {half} | {auc} |" for name, rows, days, half, auc in PUBLISHED),
    ]
    steps = "; ".join(f"{what}: {count:,}" for what, count in result["steps"])
    city_table = result["from_city_table"]
    lines += [
        "",
        f"Target `critical_found`, the City's window {FIRST}..{LAST}; the model trained on inspections before "
        f"{result['model']['holdout_from']} (its holdout: {result['model']['holdout_from']} to "
        f"{result['model']['holdout_to']}), every window inspection scored as held out. The City's population, "
        f"selected from the sample by its rules: {steps}. {ours['positives']:,} of them "
        f"({ours['positives'] / max(ours['rows'], 1):.1%}) found a critical violation; the City's: {CITY_ROWS:,} "
        f"and {CITY_POSITIVES} ({CITY_POSITIVES / CITY_ROWS:.1%}).",
    ]
    if city_table is not None:
        lines.append(
            f"{city_table:,} of ours are rows of the City's own model table (the development sample's source #10). "
            "The City kept places licensed as retail food establishments (its business-licence data, not public "
            "here: ours leaves out the facility types licensed otherwise) and dropped rows with any missing feature "
            "(weather, crime, sanitation complaints): that is where its count and ours differ."
        )
    lines.append(
        "`first half`: the share of positives dated before the window's median date -> the share scored above the "
        "median score; days earlier: the City's simulation (`evaluation.city_reorder`)."
    )
    return "\n".join(lines)


def measure(state: Path | None, candidates: tuple[str, ...] = ()) -> tuple[dict, float]:
    """Build (in `state`, else in a temporary folder removed after), read the window back and judge it."""
    folder = None if state else Path(tempfile.mkdtemp(prefix="city2014-"))
    if folder is not None:
        folder.chmod(0o755)  # the embedded server's system user must enter it
    state = state or folder / "state"
    try:
        seconds = build(state, candidates)
        rows, model = window(database_url(state))
        if model["holdout_from"] != CUTOFF or not (rows["period"] == "holdout").all():
            raise SystemExit(f"the window was not scored as held out by a model trained before {CUTOFF}: {model}")
        chosen, steps = population(rows)
        result = {
            "model": model,
            "steps": steps,
            "ours": judge(chosen),
            "from_city_table": from_city_table(chosen["inspection_id"]),
        }
    finally:
        subprocess.run(["./run", "stop"], cwd=PROJECT, env={**os.environ, "CHICAGO_FOOD_STATE_DIR": str(state)})
        if folder is not None:
            subprocess.run(["rm", "-rf", str(folder)])
    return result, seconds


def each_candidate(out: Path) -> str:
    """The window without candidates, then with each candidate feature alone, and with all of them: a table."""
    candidates = catalog.candidates_for("critical_found")
    runs = {"the model inputs alone": ()} | {f"+ `{name}`": (name,) for name in candidates}
    runs["+ every candidate"] = candidates
    lines = [
        "| features | model | days earlier | change | first half | ROC AUC |",
        "| --- | --- | ---: | ---: | --- | ---: |",
    ]
    base = None
    for label, names in runs.items():
        result, seconds = measure(None, names)
        ours = result["ours"]
        base = ours["days_earlier"] if base is None else base
        lines.append(
            f"| {label} | {result['model']['name']} | {ours['days_earlier']:.2f} | "
            f"{ours['days_earlier'] - base:+.2f} | {ours['first_half_real']:.0%} -> {ours['first_half_model']:.0%} "
            f"| {ours['roc_auc']:.3f} |"
        )
        print(f"{label}: {ours['days_earlier']:.2f} days, AUC {ours['roc_auc']:.3f} ({seconds:.0f} s)", flush=True)
    text = "\n".join(lines) + (
        "\n\n(the City's window as above, each row a `./run demo` with the training config's `candidates`: the "
        "selected model's scores; `change`: days earlier against the model inputs alone)\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.city2014", description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, help="a state folder to build in and keep (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=None, help="where the table goes (./run docs reads it)")
    parser.add_argument(
        "--candidates", nargs="+", default=(), metavar="NAME", help="candidate features the models read too"
    )
    parser.add_argument(
        "--each-candidate",
        action="store_true",
        help=f"every candidate feature alone and all together, a demo each (about {len(catalog.CANDIDATES) + 2} "
        "minutes; writes docs/results/city2014_candidates.md)",
    )
    args = parser.parse_args(argv)
    if args.each_candidate:
        print(each_candidate(args.out or CANDIDATES_RESULT))
        return 0
    result, seconds = measure(args.state, tuple(args.candidates))
    text = markdown(result)
    out = args.out or (RESULT if not args.candidates else None)  # a trial with candidates is printed only
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    print(text)
    print(f"\n(the demo with the City's training config took {seconds:.0f} s; saved to {out or 'nowhere'})")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result["ours"].items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
