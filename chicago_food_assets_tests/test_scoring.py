"""score_monitoring's numbers, computed for all (week, facility type) groups at once, are what numpy gives for each
group alone: counts, quantiles, histograms on the training deciles, PSI and fail rates."""

import json

import numpy as np
import pandas as pd

from chicago_food_assets.core.models import scoring


def one_group(values: np.ndarray, failed: np.ndarray, known: dict, edges: np.ndarray) -> dict:
    """The reference: one group's row, each number from numpy's own function on that group alone."""
    counts = np.histogram(np.clip(values, 0.0, 1.0), bins=edges)[0]
    return {
        "count": len(values),
        "mean": float(values.mean()),
        **dict(zip(scoring.PERCENTILES, np.quantile(values, list(scoring.PERCENTILES.values())), strict=True)),
        "histogram": json.dumps(counts.tolist()),
        "training_count": known["count"],
        "training_histogram": json.dumps(known["histogram"]),
        "psi": scoring.psi(counts, np.asarray(known["histogram"], dtype=float)),
        "fail_rate": float(failed.mean()),
    }


def test_monitoring_gives_each_group_what_numpy_gives_it_alone():
    rng = np.random.default_rng(7)
    rows = 20_000
    weeks = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 30, rows) * 7, unit="D")
    kinds = np.array(["Restaurant", "Grocery Store", "School", "Bakery", "Daycare"], dtype=object)
    facility = pd.array(rng.choice(kinds, rows), dtype="string[pyarrow]")
    facility[rng.random(rows) < 0.03] = pd.NA  # counted in All only
    score = rng.beta(2, 5, rows)
    score[:50] = 0.0
    score[50:100] = 1.0
    training = scoring.distribution(rng.beta(2, 5, 5_000), pd.Series(rng.choice(kinds[[0, 1, 3, 4]], 5_000)))
    edges = np.asarray(training["edges"])
    score[100:150] = edges[3]  # on an inner edge: the bin to its right
    score[150:160] = 1.2  # outside [0, 1]: clipped into the last bin, as the histogram did
    weeks = weeks.to_numpy()
    weeks[160] = np.datetime64("2023-06-05")  # a week of one inspection
    scores = pd.DataFrame({"week": weeks, "facility_type": facility, "score": score, "failed": rng.random(rows) < 0.2})

    table = scoring.monitoring(scores, training, "v1")

    expected = []
    for group, part in [
        *((name, part) for name, part in scores.dropna(subset=["facility_type"]).groupby(["week", "facility_type"])),
        *((((week, scoring.ALL), part) for (week,), part in scores.groupby(["week"]))),
    ]:
        week, name = group
        known = training["groups"].get(name) or training["groups"][scoring.ALL]  # School: never seen in training
        values = part["score"].to_numpy(dtype=float)
        expected.append(
            {"week": week, "facility_type": name, **one_group(values, part["failed"].to_numpy(), known, edges)}
        )
    reference = pd.DataFrame(expected).sort_values(["week", "facility_type"]).reset_index(drop=True)

    assert (
        len(table)
        == len(reference)
        == scores["week"].nunique() + len(scores.dropna().groupby(["week", "facility_type"]))
    )
    assert (table["model_version"] == "v1").all()
    assert table[["week", "facility_type"]].astype(str).equals(reference[["week", "facility_type"]].astype(str))
    exact = [
        "count",
        "p10",
        "p25",
        "p50",
        "p75",
        "p90",
        "histogram",
        "training_count",
        "training_histogram",
        "psi",
        "fail_rate",
    ]
    for column in exact:
        assert table[column].tolist() == reference[column].tolist(), column
    # the mean sums each group's scores in one pass instead of numpy's pairwise blocks: the last bit may differ
    np.testing.assert_allclose(table["mean"], reference["mean"], rtol=0, atol=1e-15)
    assert (
        table.loc[table["facility_type"] == "School", "training_count"] == training["groups"][scoring.ALL]["count"]
    ).all()


def test_monitoring_of_no_scores_is_an_empty_table_with_its_columns():
    training = scoring.distribution(np.linspace(0, 1, 100), pd.Series(["Restaurant"] * 100))
    empty = pd.DataFrame({"week": pd.to_datetime([]), "facility_type": [], "score": [], "failed": []})
    table = scoring.monitoring(empty, training, "v1")
    assert table.empty and list(table.columns) == list(scoring.MONITORING_COLUMNS)
