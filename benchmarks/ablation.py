"""What each group of features adds, in the rolling-origin backtest on the bundled sample (model quality, not speed).

Groups are added one at a time. Each row is the pooled backtest of the candidates trained on the groups so far;
then each candidate feature (the catalog: computed and stored, not read by that target's models) is added alone to
all of them, and all candidates together. The output is a markdown table per target of pooled ROC AUC [95% interval]
and days earlier per candidate model.
    python -m benchmarks.ablation      (both targets, about 6 minutes on 2 cores; writes docs/results/ablation.md)
    python -m benchmarks.ablation --data FEED.jsonl.gz --target critical_found   (printed only, nothing written)
"""

import argparse
import time
import warnings
from dataclasses import replace
from pathlib import Path

from benchmarks.targets import SPARSE
from chicago_food_assets.core.declarations import catalog
from chicago_food_assets.core.declarations.targets import DEFAULT, TARGETS
from chicago_food_assets.core.features import own
from chicago_food_assets.core.ingestion.cleaning import clean
from chicago_food_assets.core.ingestion.raw import frame_of_rows
from chicago_food_assets.core.models import training
from chicago_food_assets.data import SAMPLE_PATH
from chicago_food_assets.local.replay import read_rows

warnings.filterwarnings("ignore")
RESULT = Path(__file__).resolve().parent.parent / "docs" / "results" / "ablation.md"


def steps(target: str) -> list[tuple[str, list[str]]]:
    """The target's inputs by group (the catalog's), added one at a time in their declared order; then each candidate
    (a feature the target's models do not read yet) added alone to all of them, and all candidates together."""
    numeric, categorical = catalog.inputs(target)
    inputs = [f for f in catalog.FEATURES if f.name in {*numeric, *categorical}]
    out: list[tuple[str, list[str]]] = []
    for group in (g for g in catalog.GROUPS if any(f.group == g for f in inputs)):  # cumulative
        label = ("+ " if out else "") + group
        out.append((label, [*(out[-1][1] if out else []), *(f.name for f in inputs if f.group == group)]))
    every = [f.name for f in inputs]
    candidates = list(catalog.candidates_for(target))
    out += [(f"+ candidate `{name}` alone", [*every, name]) for name in candidates]
    if len(candidates) > 1:
        out.append(("+ every candidate", [*every, *candidates]))
    return out


def ablation(table, settings: training.Settings) -> str:
    """One target's table: each group added in turn, then each candidate alone and all candidates together."""
    lines = []
    for group, used in steps(settings.target):
        numeric, categorical = catalog.split(used)  # in the catalog's order, as the pipeline's models read them
        chosen = replace(settings, numeric=numeric, categorical=categorical)
        start = time.perf_counter()
        pooled = training.fit(table, chosen).pooled
        cells = [
            f"{pooled.at[m, 'roc_auc']:.3f} [{pooled.at[m, 'roc_auc_low']:.3f}, {pooled.at[m, 'roc_auc_high']:.3f}], "
            f"{pooled.at[m, 'days_earlier']:.1f} d"
            for m in ("xgboost", "knn", "logistic")
        ]
        lines.append(f"| {group} ({len(used)} features) | " + " | ".join(cells) + " |")
        print(f"{settings.target}, {group}: {time.perf_counter() - start:.0f} s", flush=True)
    return "| features | xgboost | knn | logistic |\n| --- | --- | --- | --- |\n" + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", help="a file of Socrata rows (default: the bundled sample, written to the docs)")
    parser.add_argument("--target", choices=sorted(TARGETS), help="one target (default: both, one table each)")
    args = parser.parse_args()
    cleaned = clean(frame_of_rows(read_rows(args.data or SAMPLE_PATH)))
    table = own.build(cleaned.inspections, citations=cleaned.violations)
    parts = []
    for target in [args.target] if args.target else [DEFAULT, *(t for t in TARGETS if t != DEFAULT)]:
        settings = training.Settings(target=target)
        if args.data is None and target == "critical_found":
            settings = replace(settings, **SPARSE)  # the sample's few weeks of recorded violations at its end
        parts.append(f"Target `{target}`:\n\n" + ablation(table, settings))
    text = "\n\n".join(parts) + (
        "\n\n(pooled over the backtest's cutoffs: ROC AUC [95% interval], days earlier; on the sample, "
        f"`critical_found`'s holdout is the last {SPARSE['holdout_weeks']} weeks with at least "
        f"{SPARSE['min_week_rows']} inspections of recorded violations, as in the targets table)\n"
    )
    print("\n" + text)
    if args.data is None and args.target is None:
        RESULT.parent.mkdir(exist_ok=True)
        RESULT.write_text(text)  # ./run docs puts it into docs/model.md


if __name__ == "__main__":
    main()
