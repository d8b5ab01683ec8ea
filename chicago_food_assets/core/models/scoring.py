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
    return float(
        psi_rows(np.asarray(counts, dtype=float)[None, :], np.asarray(expected, dtype=float)[None, :], floor)[0]
    )


PERCENTILES = {"p10": 0.1, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p90": 0.9}  # monitoring's columns


def monitoring(scores: pd.DataFrame, training_scores: dict, version: str) -> pd.DataFrame:
    """Per week and facility type (and `All`): the score distribution against training (`distribution`), PSI.

    In array operations over all groups at once (a full backfill has about 15,000 of them). A group's quantiles are
    numpy's linear ones (`grouped_quantiles`), so its counts, quantiles, histogram, PSI and fail rate are exactly what
    `np.quantile`, `np.histogram` and `psi` give for the group alone (a test compares); its mean sums the scores in
    one pass where `np.mean` sums in pairwise blocks, so its last bit may differ."""
    edges = np.asarray(training_scores["edges"], dtype=float)
    groups = training_scores["groups"]
    typed = scores["facility_type"].notna().to_numpy(dtype=bool)
    names = np.concatenate(
        [scores["facility_type"].to_numpy(dtype=object)[typed], np.full(len(scores), ALL, dtype=object)]
    )
    weeks = np.concatenate([scores["week"].to_numpy()[typed], scores["week"].to_numpy()])
    values = np.concatenate([scores["score"].to_numpy(dtype=float)[typed], scores["score"].to_numpy(dtype=float)])
    failed = np.concatenate([scores["failed"].to_numpy(dtype=float)[typed], scores["failed"].to_numpy(dtype=float)])
    codes, labels = pd.factorize(names, sort=True)
    week_codes, week_labels = pd.factorize(weeks, sort=True)
    order = np.lexsort((codes, week_codes))  # stable: a group's rows keep their order in `scores`
    key = week_codes[order].astype(np.int64) * len(labels) + codes[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=np.int64)
    counts = np.diff(np.r_[starts, len(key)])
    first = order[starts]
    label = codes[first]  # each group's facility type (or All), as a position in `labels`
    ordered = values[order]
    group_of_row = np.repeat(np.arange(len(starts)), counts)
    ranked = ordered[np.lexsort((ordered, group_of_row))]  # each group's scores sorted, for its quantiles
    quantiles = grouped_quantiles(ranked, starts, counts, np.asarray(list(PERCENTILES.values())))
    clipped = np.clip(ordered, 0.0, 1.0)
    cells = np.searchsorted(edges, clipped, side="right") - 1
    cells[clipped == edges[-1]] = len(edges) - 2  # the last bin is closed, as np.histogram's
    inside = (cells >= 0) & (cells < len(edges) - 1)  # not NaN
    histograms = np.bincount(
        group_of_row[inside] * (len(edges) - 1) + cells[inside], minlength=len(starts) * (len(edges) - 1)
    ).reshape(len(starts), len(edges) - 1)
    # training's numbers, once per facility type (a type training never saw: everyone's), then taken per group
    known = [groups.get(name) or groups[ALL] for name in labels]
    expected = np.asarray([entry["histogram"] for entry in known], dtype=float).reshape(len(labels), len(edges) - 1)
    table = pd.DataFrame(
        {
            "week": week_labels[week_codes[first]],
            "facility_type": labels[label],
            "count": counts.astype("int64"),
            "mean": np.add.reduceat(ordered, starts) / counts if len(starts) else np.zeros(0),
            **{name: quantiles[:, i] for i, name in enumerate(PERCENTILES)},
            "histogram": [json.dumps(row) for row in histograms.tolist()],  # 40 ms for 15,000 groups
            "training_count": np.asarray([int(entry["count"]) for entry in known], dtype="int64")[label],
            "training_mean": np.asarray([entry["mean"] for entry in known], dtype=float)[label],
            "training_histogram": np.asarray([json.dumps(entry["histogram"]) for entry in known], dtype=object)[label],
            "psi": psi_rows(histograms.astype(float), expected[label]),
            "fail_rate": np.add.reduceat(failed[order], starts) / counts if len(starts) else np.zeros(0),
            "model_version": version,
        },
        columns=list(MONITORING_COLUMNS),
    )
    return table


def grouped_quantiles(ranked: np.ndarray, starts: np.ndarray, counts: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Per group (its values sorted, from `starts` for `counts`), numpy's linear quantiles, step by step as
    `np.quantile` takes them (the virtual index (n - 1) q, its floor, and numpy's two-sided interpolation)."""
    if not len(starts):
        return np.zeros((0, len(quantiles)))
    virtual = (counts[:, None] - 1) * quantiles[None, :]
    previous = np.floor(virtual)
    last = virtual >= (counts[:, None] - 1)
    below = np.where(last, counts[:, None] - 1, previous).astype(np.intp)
    above = np.where(last, counts[:, None] - 1, previous + 1).astype(np.intp)
    gamma = virtual - previous
    low, high = ranked[starts[:, None] + below], ranked[starts[:, None] + above]
    difference = high - low
    return np.where(gamma >= 0.5, high - difference * (1 - gamma), low + difference * gamma)


def psi_rows(counts: np.ndarray, expected: np.ndarray, floor: float = 1e-4) -> np.ndarray:
    """`psi` of each row of `counts` against the same row of `expected`."""
    p = np.maximum(counts / np.maximum(counts.sum(axis=1), 1)[:, None], floor)
    q = np.maximum(expected / np.maximum(expected.sum(axis=1), 1)[:, None], floor)
    return np.sum((p - q) * np.log(p / q), axis=1)
