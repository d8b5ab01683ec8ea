"""How good a score is for inspectors: ranking quality, the top of the list, calibration, and days earlier.

The re-ordering simulation follows the City of Chicago's evaluation: the holdout's inspections keep their real
dates as slots, but are visited in score order (riskiest first). A failing establishment found in an earlier slot
than it really was is found that many days earlier.
"""

import numpy as np
import pandas as pd


def top_share(score: np.ndarray, failed: np.ndarray, share: float) -> tuple[float, float]:
    """Precision and recall among the `share` of inspections with the highest scores (the inspector's list)."""
    n = max(round(share * len(score)), 1)
    top = np.argsort(-score, kind="stable")[:n]
    hits = failed[top].sum()
    return float(hits / n), float(hits / max(failed.sum(), 1))


def reorder(dates: np.ndarray, failed: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Visit the window's inspections in score order instead of the real order; where do the fails land?"""
    slots = np.sort(dates.astype("datetime64[D]"))
    order = np.argsort(-score, kind="stable")  # riskiest first
    simulated = np.empty_like(slots)
    simulated[order] = slots
    real = dates.astype("datetime64[D]")
    fails = failed.astype(bool)
    earlier = (real[fails] - simulated[fails]).astype(float)
    midpoint = slots[0] + (slots[-1] - slots[0]) / 2 if len(slots) else None
    return {
        "days_earlier": float(earlier.mean()) if fails.any() else 0.0,
        "fails_in_first_half": float((simulated[fails] <= midpoint).mean()) if fails.any() else 0.0,
        "fails_in_first_half_real_order": float((real[fails] <= midpoint).mean()) if fails.any() else 0.0,
    }


def evaluate(
    failed: np.ndarray, score: np.ndarray, dates: np.ndarray, share: float = 0.1, threshold: float = 0.5
) -> dict:
    """Every metric we report for a score on a holdout."""
    from sklearn.metrics import accuracy_score, average_precision_score, brier_score_loss, log_loss, roc_auc_score

    failed = np.asarray(failed, dtype=int)
    score = np.clip(np.asarray(score, dtype=float), 1e-6, 1 - 1e-6)
    two_classes = len(np.unique(failed)) == 2
    precision, recall = top_share(score, failed, share)
    return {
        "rows": len(failed),
        "fail_rate": float(failed.mean()) if len(failed) else 0.0,
        "roc_auc": float(roc_auc_score(failed, score)) if two_classes else float("nan"),
        "average_precision": float(average_precision_score(failed, score)) if two_classes else float("nan"),
        f"precision_top_{int(share * 100)}pct": precision,
        f"recall_top_{int(share * 100)}pct": recall,
        "accuracy": float(accuracy_score(failed, score >= threshold)),
        "log_loss": float(log_loss(failed, score, labels=[0, 1])),
        "brier": float(brier_score_loss(failed, score)),
        **reorder(np.asarray(dates), failed, score),
    }


def baselines(table: pd.DataFrame, fail_rate: float) -> dict[str, np.ndarray]:
    """Naive scores: the establishment's previous result, and the overall fail rate of the training data."""
    previous = table["last_result"].map({"Fail": 1.0, "Pass w/ Conditions": 0.5, "Pass": 0.0})
    return {
        "previous_result": previous.fillna(fail_rate).to_numpy(dtype=float),
        "fail_rate": np.full(len(table), fail_rate),
    }
