"""Scores for inspectors and the numbers that say whether they can still be trusted.

`period` marks where a week sits for the model that scored it: `training` (the model learnt from it: an in-sample
score, not a prediction), `holdout` (judged on it, never learnt from it) or `prediction` (after both).
Drift is the population stability index (PSI) of a week's scores against the training scores, on the training
deciles; above 0.2 is the usual "the population has shifted" line.
"""

import json

import numpy as np
import pandas as pd

from chicago_food_assets.core.declarations.contracts import INSPECTION_SCORES, SCORE_MONITORING
from chicago_food_assets.core.models import fairness
from chicago_food_assets.core.models.window import ModelWindow

ALL = "All"
BINS = 10
PSI_ALERT = 0.2
DRIFT_WEEKS = 4  # drift is judged on the newest weeks outside training (the check, ./run status, the alerts)
MIN_DRIFT_ROWS = 30  # PSI of fewer scores is noise: the drift check and the dashboard ignore smaller groups
COLUMNS = INSPECTION_SCORES.names
MONITORING_COLUMNS = SCORE_MONITORING.names


def sizeable(monitoring: pd.DataFrame) -> pd.DataFrame:
    """The rows of `score_monitoring` whose group holds enough scores for its drift to mean something."""
    return monitoring[monitoring["count"] >= MIN_DRIFT_ROWS]


def drifting(monitoring: pd.DataFrame) -> pd.DataFrame:
    """The rows of `score_monitoring` over the drift line: a sizeable group whose PSI exceeds PSI_ALERT."""
    groups = sizeable(monitoring)
    return groups[groups["psi"] > PSI_ALERT]


def recent(monitoring: pd.DataFrame, cutoff: object, weeks: int = DRIFT_WEEKS) -> pd.DataFrame:
    """The rows drift is judged on: weeks the model did not learn from (from its holdout's `cutoff` on), and of those
    the newest `weeks`. A training week's PSI says how the training weeks differ among themselves, not that the
    model drifted; an old week of a backfill is history, not today's drift."""
    later = monitoring[monitoring["week"] >= pd.Timestamp(cutoff)] if cutoff is not None else monitoring
    if later.empty:
        return later
    newest = pd.Timestamp(later["week"].max())
    return later[later["week"] > newest - pd.Timedelta(weeks=weeks)]


def outside_unit_range(scores: np.ndarray) -> int:
    """How many scores are not a probability: NaN, infinite, below 0 or above 1."""
    values = np.asarray(scores, dtype=float)
    return int((~np.isfinite(values) | (values < 0) | (values > 1)).sum())


def score_table(
    table: pd.DataFrame,
    score: np.ndarray,
    version: str,
    window: ModelWindow,
    reasons: pd.Series | None = None,
    decision: "fairness.Decision | None" = None,
) -> pd.DataFrame:
    """One row per inspection with its score, its rank within the week (1 = first to visit) and its reasons (JSON).

    The rank follows the deployed policy (`decision`): riskiest first overall, or, with per-group thresholds, by a
    place's percentile within its facility type that week (each type's riskiest first), ties by score."""
    out = table[["inspection_id", "license", "establishment", "week", "inspection_date", "facility_type"]].reset_index(
        drop=True
    )
    out["score"] = np.asarray(score, dtype=float)
    within = np.zeros(len(out))
    if decision is not None and decision.deployed == fairness.PER_GROUP:
        groups = fairness.policy_groups(out["facility_type"], list(decision.groups))
        week_group = out["week"].astype(str) + "|" + groups.astype(str)  # each week's list is its own
        within = fairness.within_group_order(out["score"].to_numpy(), week_group, out["inspection_id"].to_numpy())
    keyed = out.assign(within=within)
    order = keyed.sort_values(
        ["week", "within", "score", "inspection_id"], ascending=[True, True, False, True], kind="stable"
    ).index
    rank = np.empty(len(out), dtype=np.int32)
    rank[order] = keyed.loc[order].groupby("week").cumcount().to_numpy() + 1
    out["rank"] = rank
    out["model_version"] = version
    out["period"] = window.period(out["week"])
    out["failed"] = table["failed"].to_numpy(dtype=bool)
    out["reasons"] = reasons.to_numpy() if reasons is not None else None
    return out[list(COLUMNS)]


def latest_by_establishment(latest: pd.DataFrame, scored: pd.Series) -> pd.DataFrame:
    """Each establishment's most recent score (`latest`: one row each, its newest by date and inspection id) with how
    many of its inspections were scored (`scored`, by establishment), in establishment order."""
    out = latest.sort_values("establishment", kind="stable").reset_index(drop=True)
    out["inspections_scored"] = scored.reindex(out["establishment"]).to_numpy()
    return out


def distribution(score: np.ndarray, facility_type: pd.Series) -> dict:
    """The training distribution: decile edges of all training scores and each facility type's shares per bin."""
    score = np.asarray(score, dtype=float)
    edges = np.unique(np.quantile(score, np.linspace(0, 1, BINS + 1))) if len(score) else np.linspace(0, 1, BINS + 1)
    edges[0], edges[-1] = 0.0, 1.0
    groups = {
        ALL: score,
        **{name: score[(facility_type == name).to_numpy()] for name in facility_type.dropna().unique()},
    }
    return {
        "edges": edges.tolist(),
        "groups": {
            name: {
                "count": len(values),
                "mean": float(values.mean()) if len(values) else None,
                "histogram": histogram(values, edges).tolist(),
            }
            for name, values in groups.items()
        },
    }


def histogram(values: np.ndarray, edges: np.ndarray | list) -> np.ndarray:
    return np.histogram(np.clip(values, 0.0, 1.0), bins=np.asarray(edges))[0]


def psi(counts: np.ndarray, expected: np.ndarray, floor: float = 1e-4) -> float:
    """Population stability index of `counts` against the `expected` histogram on the same bins."""
    p = np.maximum(counts / max(counts.sum(), 1), floor)
    q = np.maximum(expected / max(expected.sum(), 1), floor)
    return float(np.sum((p - q) * np.log(p / q)))


def monitoring(scores: pd.DataFrame, training_scores: dict, version: str) -> pd.DataFrame:
    """Per week and facility type (and `All`): the score distribution against training (`distribution`), PSI."""
    edges = np.asarray(training_scores["edges"])
    rows = []
    frames = [scores.assign(group=scores["facility_type"]), scores.assign(group=ALL)]
    for (week, group), part in pd.concat(frames).groupby(["week", "group"], sort=True):
        values = part["score"].to_numpy(dtype=float)
        counts = histogram(values, edges)
        groups = training_scores["groups"]
        known = groups.get(group) or groups[ALL]  # a type training never saw: compare with everyone
        quantiles = np.quantile(values, [0.1, 0.25, 0.5, 0.75, 0.9])
        rows.append(
            {
                "week": week,
                "facility_type": group,
                "count": len(values),
                "mean": float(values.mean()),
                **dict(zip(("p10", "p25", "p50", "p75", "p90"), map(float, quantiles), strict=True)),
                "histogram": json.dumps(counts.tolist()),
                "training_count": int(known["count"]),
                "training_mean": known["mean"],
                "training_histogram": json.dumps(known["histogram"]),
                "psi": psi(counts, np.asarray(known["histogram"], dtype=float)),
                "fail_rate": float(part["failed"].mean()),
                "model_version": version,
            }
        )  # one row per (week, facility type): a few hundred per year, not a data path
    table = pd.DataFrame(rows, columns=list(MONITORING_COLUMNS))
    table["count"] = table["count"].astype("int64")
    table["training_count"] = table["training_count"].astype("int64")
    table["training_mean"] = table["training_mean"].astype(float)
    return table
