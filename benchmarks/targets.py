"""Both targets, both protocols: the rolling-origin backtest for `failed` and `critical_found` on the bundled sample
and on the generated feed, judged our way (every inspection of each 12-week window) and the City of Chicago's way
(canvass inspections, no re-inspections, each window's first 60 days). Model quality, not speed.

The bundled sample's violations are recorded for 2011-2014 (the City's own records) and the extracts that kept them;
its newest weeks with recorded violations are thin, so its `critical_found` row's holdout is the last 8 weeks with
at least 15 such rows (the windows column says how many the backtest found), and says so.
    python -m benchmarks.targets [--rows 300000]   (about 5 minutes; writes docs/results/targets.md for ./run docs)
"""

import argparse
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import pandas as pd

from chicago_food_assets.core.features import own
from chicago_food_assets.core.ingestion.cleaning import clean
from chicago_food_assets.core.ingestion.raw import frame_of_rows
from chicago_food_assets.core.models import evaluation, selection, training
from chicago_food_assets.data import SAMPLE_PATH
from chicago_food_assets.local.replay import read_rows

warnings.filterwarnings("ignore")
RESULT = Path(__file__).resolve().parent.parent / "docs" / "results" / "targets.md"
SPARSE = {"min_week_rows": 15, "holdout_weeks": 8}  # the sample's critical_found: its few recorded weeks


def feature_table(path: Path) -> pd.DataFrame:
    cleaned = clean(frame_of_rows(read_rows(path)))
    return own.build(cleaned.inspections, citations=cleaned.violations)


def judged(table: pd.DataFrame, settings: training.Settings) -> list[dict]:
    """The selected candidate's pooled backtest under both protocols."""
    trained = training.fit(table, settings)
    chosen = selection.choose(trained, table)
    ours = trained.pooled.loc[chosen.name]
    city = trained.chicago[(trained.chicago["cutoff"] == evaluation.POOLED) & (trained.chicago["model"] == chosen.name)]
    city_row = city.iloc[0]
    windows = len(set(trained.backtest["cutoff"]) - {evaluation.POOLED})
    common = {"model": chosen.name, "windows": windows}

    def row(protocol: str, rows: int, positives: int, auc: str, days: float, halves: tuple, later: str) -> dict:
        first_half = f"{halves[0]:.0%} -> {halves[1]:.0%}"
        return {
            **common,
            "protocol": protocol,
            "rows": int(rows),
            "positives": int(positives),
            "roc_auc": auc,
            "days_earlier": days,
            "first_half": first_half,
            "found_later": later,
        }

    halves = (ours["fails_in_first_half_real_order"], ours["fails_in_first_half"])
    interval = f"{ours['roc_auc']:.3f} [{ours['roc_auc_low']:.3f}, {ours['roc_auc_high']:.3f}]"
    return [
        row("ours", ours["rows"], ours["fails"], interval, ours["days_earlier"], halves, ""),
        row(
            "Chicago's",
            city_row["rows"],
            city_row["positives"],
            f"{city_row['roc_auc']:.3f}",
            city_row["days_earlier"],
            (city_row["first_half_real"], city_row["first_half_model"]),
            f"{city_row['found_later']:.0%}",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000, help="rows of the generated feed (default 300,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        feed = Path(folder) / "feed.jsonl.gz"
        from chicago_food_assets.local.generate.__main__ import main as generate

        generate(["--rows", str(args.rows), "--out", str(feed), "--last", "2026-11-22"])
        tables = {
            "bundled sample": feature_table(SAMPLE_PATH),
            f"generated feed ({args.rows:,} rows)": feature_table(feed),
        }
    rows = []
    for data, table in tables.items():
        for target in ("failed", "critical_found"):
            settings = training.Settings(target=target)
            if data == "bundled sample" and target == "critical_found":
                settings = replace(settings, **SPARSE)
            start = time.perf_counter()
            for row in judged(table, settings):
                rows.append({"data": data, "target": target, **row})
            print(f"{data}, {target}: {time.perf_counter() - start:.0f} s", flush=True)
    frame = pd.DataFrame(rows)
    text = frame.to_markdown(index=False, floatfmt=".2f", missingval="")
    text += (
        "\n\n(the selected candidate's pooled rolling-origin backtest; `first_half`: the share of positives found in "
        "the first half of each window, real order -> score order; `found_later`: the share found later than in "
        f"reality; the sample's `critical_found` row: its holdout is the last {SPARSE['holdout_weeks']} weeks with at "
        f"least {SPARSE['min_week_rows']} inspections of recorded violations)\n"
    )
    print("\n" + text)
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(text)  # ./run docs puts it into docs/model.md


if __name__ == "__main__":
    main()
