"""How good a score is for inspectors: ranking quality, the top of the list, calibration, and days earlier.

The re-ordering simulation follows the City of Chicago's evaluation: the holdout's inspections keep their real
dates as slots, but are visited in score order (riskiest first). A failing establishment found in an earlier slot
than it really was is found that many days earlier.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from chicago_food_assets.core.declarations.targets import OUTCOME


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
        "fails_found_later": float((simulated[fails] > real[fails]).mean()) if fails.any() else 0.0,
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


def auc_interval(failed: np.ndarray, score: np.ndarray, boot: int = 200, seed: int = 0) -> tuple[float, float]:
    """A bootstrap 95% interval of ROC AUC: `boot` resamples of the rows, each AUC the Mann-Whitney count (a fail
    scored above a pass counts 1, a tie half) over the pairs of the resample.

    The scores are sorted once: each row is given its score's place among the distinct scores, and a resample's count
    is, per distinct score, the fails drawn there times the passes drawn below it (plus half those drawn there), from
    counts and cumulative sums; no resample is sorted. The counts are whole or half numbers, exact in floats, so
    each AUC is the one average ranks give."""
    failed, score = np.asarray(failed, dtype=bool), np.asarray(score, dtype=float)
    if len(failed) == 0 or failed.all() or not failed.any() or np.isnan(score).any():  # no interval to give
        return float("nan"), float("nan")
    level = np.unique(score, return_inverse=True)[1].reshape(-1)  # each row's distinct score, in ascending order
    levels = int(level.max()) + 1
    rng = np.random.default_rng(seed)
    values = []
    batch = max(1, 4_000_000 // len(score))  # resamples drawn together: a few tens of MB at a time
    for start in range(0, boot, batch):
        rows = rng.integers(0, len(score), size=(min(batch, boot - start), len(score)))
        drawn = len(rows)
        cell = (level[rows] + levels * np.arange(drawn)[:, None]).reshape(-1)  # (resample, distinct score)
        positive = failed[rows].reshape(-1)
        fails = np.bincount(cell[positive], minlength=drawn * levels).reshape(drawn, levels).astype(float)
        passes = np.bincount(cell[~positive], minlength=drawn * levels).reshape(drawn, levels).astype(float)
        below = np.cumsum(passes, axis=1) - passes
        n1 = fails.sum(axis=1)
        n0 = len(score) - n1
        with np.errstate(invalid="ignore", divide="ignore"):
            values.append((fails * (below + passes / 2)).sum(axis=1) / (n1 * n0))
    low, high = np.nanpercentile(np.concatenate(values), [2.5, 97.5])
    return float(low), float(high)


BACKTEST_SHARES = (0.1, 0.2)
POOLED = "pooled"


def backtest(windows: pd.DataFrame, scorers: list[str], boot: int = 200, seed: int = 0) -> pd.DataFrame:
    """Rolling-origin results: `windows` has cutoff, outcome, inspection_date and a `score_<name>` column per scorer,
    one block of rows per cutoff (each scored by models fitted before it). One row per scorer and cutoff, and per
    scorer a `pooled` row: ROC AUC (with its bootstrap interval) and average precision over all windows' rows;
    precision in the top 10% and 20% as the mean over windows (an inspector's list is a window's); days earlier and
    fails found in the first half as the mean over windows weighted by their fails (each window is re-ordered on
    its own date slots; the first half ends at the midpoint between its first and last inspection date)."""
    rows = []
    for name in scorers:
        per_window = []
        for cutoff, part in windows.groupby("cutoff", sort=True):
            failed = part[OUTCOME].to_numpy(dtype=int)
            score = part[f"score_{name}"].to_numpy(dtype=float)
            per_window.append(
                {
                    "model": name,
                    "cutoff": str(pd.Timestamp(cutoff).date()),
                    **_ranking(failed, score, boot, seed),
                    **{f"precision_top_{int(s * 100)}pct": top_share(score, failed, s)[0] for s in BACKTEST_SHARES},
                    **reorder(part["inspection_date"].to_numpy(), failed, score),
                }
            )
        frame = pd.DataFrame(per_window)
        fails = frame["fails"].to_numpy(dtype=float)
        pooled = {
            "model": name,
            "cutoff": POOLED,
            **_ranking(windows[OUTCOME].to_numpy(dtype=int), windows[f"score_{name}"].to_numpy(float), boot, seed),
            **{
                f"precision_top_{int(s * 100)}pct": float(frame[f"precision_top_{int(s * 100)}pct"].mean())
                for s in BACKTEST_SHARES
            },
            **{
                k: float(np.average(frame[k], weights=fails))
                for k in ("days_earlier", "fails_in_first_half", "fails_in_first_half_real_order")
            },
        }
        rows.extend([*per_window, pooled])
    return pd.DataFrame(rows)


CHICAGO_DAYS = 60  # the City's evaluation re-ordered two months of inspections (Sept-Oct 2014)


def city_reorder(ids: np.ndarray, dates: np.ndarray, positive: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """The City of Chicago's simulation, as its evaluation computed it (`simulated_date_diff_mean` and the first-half
    counts of `30_glmnet_model.R`): the inspections in score order, riskiest first, ties in inspection id order; the
    k-th of them takes the k-th earliest real date. `days_earlier`: the mean over positives of the real date minus
    the simulated one. The first half: the positives dated before the median date (`first_half_real`) against the
    positives scored above the median score (`first_half_model`), each as a share of all positives.
    `found_later`: the positives whose simulated date is after their real one."""
    ids, score = np.asarray(ids, dtype=np.int64), np.asarray(score, dtype=float)
    days = np.asarray(dates).astype("datetime64[D]").astype(np.int64)
    positive = np.asarray(positive, dtype=bool)
    if not positive.any():  # nothing to find (a pooled average gives such a window no weight)
        return {"days_earlier": 0.0, "first_half_real": 0.0, "first_half_model": 0.0, "found_later": 0.0}
    by_id = np.argsort(ids, kind="stable")
    order = by_id[np.argsort(-score[by_id], kind="stable")]  # a stable sort of the id-ordered rows: ties by id
    simulated = np.empty_like(days)
    simulated[order] = np.sort(days)
    return {
        "days_earlier": float((days - simulated)[positive].mean()),
        "first_half_real": float((days < np.median(days))[positive].mean()),
        "first_half_model": float((score > np.median(score))[positive].mean()),
        "found_later": float((simulated > days)[positive].mean()),
    }


def chicago_rows(window: pd.DataFrame, days: int = CHICAGO_DAYS) -> pd.DataFrame:
    """The rows of one backtest window the City's protocol judges: canvass inspections that are not re-inspections,
    in the window's first `days` days, with a known outcome."""
    first = window["inspection_date"].min()
    kept = (
        (window["inspection_kind"] == "canvass").fillna(False).to_numpy(dtype=bool)
        & ~window["reinspection"].to_numpy(dtype=bool)
        & (window["inspection_date"] < first + pd.Timedelta(days=days)).to_numpy(dtype=bool)
        & window[OUTCOME].notna().to_numpy(dtype=bool)
    )
    return window[kept]


def chicago(windows: pd.DataFrame, scorers: list[str], days: int = CHICAGO_DAYS) -> pd.DataFrame:
    """The City of Chicago's protocol on the backtest's windows (`chicago_rows` of each), re-ordered by score as the
    City did (`city_reorder`): per
    scorer and window, and pooled (ROC AUC over all rows; the rest weighted by positives): rows, positives, ROC AUC,
    days earlier, the share of positives found in the first half in the real order and in the score order, and the
    share found later than they really were."""
    from sklearn.metrics import roc_auc_score

    rows = []
    parts = {cutoff: chicago_rows(part, days) for cutoff, part in windows.groupby("cutoff", sort=True)}
    everything = pd.concat(parts.values())  # the pooled rows: the same for every scorer
    positive = everything[OUTCOME].to_numpy(dtype=int)
    for name in scorers:
        per_window = []
        for cutoff, part in parts.items():
            outcome = part[OUTCOME].to_numpy(dtype=int)
            score = part[f"score_{name}"].to_numpy(dtype=float)
            per_window.append(
                {
                    "model": name,
                    "cutoff": str(pd.Timestamp(cutoff).date()),
                    "rows": len(part),
                    "positives": int(outcome.sum()),
                    "roc_auc": float(roc_auc_score(outcome, score)) if 0 < outcome.sum() < len(outcome) else np.nan,
                    **city_reorder(part["inspection_id"], part["inspection_date"].to_numpy(), outcome, score),
                }
            )
        frame = pd.DataFrame(per_window)
        weights = frame["positives"].to_numpy(dtype=float)
        pooled = {
            "model": name,
            "cutoff": POOLED,
            "rows": int(frame["rows"].sum()),
            "positives": int(weights.sum()),
            "roc_auc": float(roc_auc_score(positive, everything[f"score_{name}"].to_numpy(dtype=float)))
            if 0 < positive.sum() < len(positive)
            else np.nan,
            **{
                k: float(np.average(frame[k], weights=weights)) if weights.sum() else np.nan
                for k in ("days_earlier", "first_half_real", "first_half_model", "found_later")
            },
        }
        rows.extend([*per_window, pooled])
    return pd.DataFrame(rows)


def _ranking(failed: np.ndarray, score: np.ndarray, boot: int, seed: int) -> dict:
    """Rows, fails, ROC AUC with its bootstrap interval and average precision of one block of scored rows."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    low, high = auc_interval(failed, score, boot, seed)
    return {
        "rows": len(failed),
        "fails": int(failed.sum()),
        "roc_auc": float(roc_auc_score(failed, score)),
        "roc_auc_low": low,
        "roc_auc_high": high,
        "average_precision": float(average_precision_score(failed, score)),
    }


def backtest_table(frame: pd.DataFrame) -> str:
    """The backtest as markdown: per model, its cutoffs then the pooled row; ROC AUC with its 95% interval."""
    shown = frame.assign(
        roc_auc=[
            f"{a:.3f} [{lo:.3f}, {hi:.3f}]"
            for a, lo, hi in frame[["roc_auc", "roc_auc_low", "roc_auc_high"]].itertuples(index=False)
        ]  # one formatted cell per row of a small report table
    )
    columns = [
        "model",
        "cutoff",
        "rows",
        "fails",
        "roc_auc",
        "average_precision",
        "precision_top_10pct",
        "precision_top_20pct",
        "days_earlier",
        "fails_in_first_half",
    ]
    return shown[columns].to_markdown(index=False, floatfmt=".3f") + "\n"


@dataclass(frozen=True)
class Calibration:
    """Platt scaling: probability = sigmoid(slope * logit(raw) + intercept). Monotone, so it changes no ranking
    (ROC AUC, the inspectors' list, days earlier), only what a score means."""

    slope: float = 1.0
    intercept: float = 0.0
    rows: int = 0  # inspections it was fitted on
    weeks: str = ""  # which ones

    def apply(self, raw: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(self.slope * logit(raw) + self.intercept)))


def logit(probability: np.ndarray) -> np.ndarray:
    """Log-odds, with probabilities kept inside [1e-6, 1 - 1e-6]."""
    p = np.clip(np.asarray(probability, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def platt(raw: np.ndarray, failed: np.ndarray, weeks: str = "") -> Calibration:
    """The calibration map from out-of-time raw scores and their outcomes."""
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(C=1e6).fit(logit(raw).reshape(-1, 1), np.asarray(failed, dtype=int))
    return Calibration(float(fitted.coef_[0, 0]), float(fitted.intercept_[0]), len(raw), weeks)


def reliability(failed: np.ndarray, score: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Predicted against observed by decile of the score: does a 0.3 fail three times in ten?"""
    frame = pd.DataFrame({"score": np.asarray(score, dtype=float), "failed": np.asarray(failed, dtype=float)})
    frame["decile"] = pd.qcut(frame["score"].rank(method="first"), bins, labels=False) + 1
    table = frame.groupby("decile").agg(
        rows=("score", "size"), predicted=("score", "mean"), observed=("failed", "mean")
    )
    return table.reset_index()
