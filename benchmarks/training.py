"""Benchmark: training XGBoost, KNN and logistic regression on ~300,000 feature rows, with holdout evaluation.

The features come from the bundled sample replicated with distinct ids and licenses (see features.py).
KNN is fit on a sample of 20,000 rows (Settings.knn_sample): its cost is in prediction, not fitting.
    python -m benchmarks.training [--copies 8]
"""

import argparse
import resource
import time
import warnings
from datetime import date

from benchmarks.features import replicated
from benchmarks.report import record
from chicago_food_assets.core.features import own
from chicago_food_assets.core.ingestion.cleaning import clean
from chicago_food_assets.core.models import training

warnings.filterwarnings("ignore")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=8)
    args = parser.parse_args()
    cleaned = clean(replicated(args.copies))
    table = own.build(cleaned.inspections, citations=cleaned.violations)
    start = time.perf_counter()
    trained = training.fit(table, training.Settings(cutoff=date(2019, 6, 24)))  # the sample's last dense weeks
    seconds = time.perf_counter() - start
    print(f"feature rows {len(table):,}: train {trained.train_rows:,}, holdout {len(trained.holdout):,}")
    for name, candidate in trained.candidates.items():
        print(
            f"  {name:9} fit {candidate.fit_seconds:6.1f} s on {candidate.fit_rows:>7,} rows, "
            f"holdout ROC AUC {candidate.metrics['roc_auc']:.3f}"
        )
    print(f"all three, with holdout scoring and metrics: {seconds:.1f} s (target < 120 s)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    record("train XGBoost, KNN and logistic, score the holdout", seconds, "< 120 s", seconds < 120, len(table))


if __name__ == "__main__":
    main()
