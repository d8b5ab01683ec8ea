"""Training, temporal evaluation and selection on the bundled sample's real features."""

import numpy as np
import pandas as pd
import pytest

from chicago_food_assets.core import evaluation, features, training
from chicago_food_assets.core.cleaning import clean
from chicago_food_assets.core.raw import frame_of_rows

SMALL = {
    "n_estimators": 60,
    "max_depth": 3,
    "learning_rate": 0.1,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 5,
}


@pytest.fixture(scope="module")
def cleaned(sample_rows) -> pd.DataFrame:
    return clean(frame_of_rows(sample_rows)).inspections


@pytest.fixture(scope="module")
def table(cleaned) -> pd.DataFrame:
    return features.build(cleaned)


def test_the_default_holdout_is_the_last_weeks_with_data_and_training_is_strictly_before(table):
    split = training.temporal_split(table, training.Settings())
    window = split.window
    assert str(window.cutoff) == "2019-06-24" and str(window.end) == "2019-09-16"  # the sample's last dense weeks
    assert split.train["week"].max() < pd.Timestamp(window.cutoff) <= split.holdout["week"].min()
    assert split.holdout["week"].nunique() == 12
    custom = training.temporal_split(
        table, training.Settings(cutoff=pd.Timestamp("2014-06-02").date(), holdout_weeks=4)
    )
    assert custom.holdout["week"].min() == pd.Timestamp("2014-06-02") and custom.holdout["week"].max() == pd.Timestamp(
        "2014-06-23"
    )


def test_training_is_deterministic_with_a_seed(table):
    settings = training.Settings(
        cutoff=pd.Timestamp("2014-09-01").date(), holdout_weeks=8, xgboost=SMALL, knn_sample=3000
    )
    subset = table[(table["week"] >= pd.Timestamp("2013-01-01")) & (table["week"] < pd.Timestamp("2015-01-01"))]
    first, second = training.fit(subset, settings), training.fit(subset, settings)
    assert first.metrics == second.metrics
    for name in ("xgboost", "knn", "logistic"):
        np.testing.assert_array_equal(first.holdout[f"score_{name}"], second.holdout[f"score_{name}"])
    other = training.fit(subset, training.Settings(**{**settings.__dict__, "seed": 7}))
    assert not np.array_equal(first.holdout["score_xgboost"], other.holdout["score_xgboost"])


def test_the_selected_model_beats_the_naive_baselines_on_the_sample(table):
    trained = training.fit(table, training.Settings())
    chosen = training.choose(trained, table)
    best = chosen.metrics[chosen.name]
    assert best["roc_auc"] > chosen.metrics["baseline_previous_result"]["roc_auc"]
    assert best["roc_auc"] > chosen.metrics["baseline_fail_rate"]["roc_auc"] == 0.5
    assert best["days_earlier"] > max(chosen.metrics["baseline_previous_result"]["days_earlier"], 0)
    assert 0.6 < best["roc_auc"] < 0.9 and not training.leakage_warnings(trained.metrics)


def test_a_feature_set_with_the_current_violations_trips_the_leakage_warning(cleaned, table):
    leaky = table.merge(
        cleaned[["inspection_id", "critical_count", "serious_count", "violation_count"]], on="inspection_id"
    )
    settings = training.Settings(
        cutoff=pd.Timestamp("2010-03-22").date(),
        holdout_weeks=6,
        min_week_rows=20,
        xgboost=SMALL,
        knn_sample=2000,
        numeric=(*features.NUMERIC, "critical_count", "serious_count", "violation_count"),
    )
    early = leaky[leaky["week"] < pd.Timestamp("2010-06-01")]  # 2010: every row has its violations recorded
    trained = training.fit(early, settings)
    warnings = training.leakage_warnings(trained.metrics)
    assert warnings and all("possible leakage" in w for w in warnings)
    assert not training.leakage_warnings(
        training.fit(early, training.Settings(**{**settings.__dict__, "numeric": features.NUMERIC})).metrics
    )


def test_selection_picks_the_best_by_the_configured_metric():
    metrics = {
        "xgboost": {"roc_auc": 0.68, "accuracy": 0.74, "brier": 0.18},
        "knn": {"roc_auc": 0.64, "accuracy": 0.77, "brier": 0.17},
        "logistic": {"roc_auc": 0.66, "accuracy": 0.75, "brier": 0.19},
    }
    assert training.select(metrics, "roc_auc") == "xgboost"
    assert training.select(metrics, "accuracy") == "knn"
    assert training.select(metrics, "brier") == "knn"  # lower is better


def test_days_earlier_on_a_hand_made_window():
    dates = np.array(["2019-07-01", "2019-07-02", "2019-07-03", "2019-07-11"], dtype="datetime64[D]")
    failed = np.array([0, 0, 0, 1])
    result = evaluation.reorder(dates, failed, score=np.array([0.1, 0.2, 0.3, 0.9]))
    assert result["days_earlier"] == 10  # visited first: 07-01 instead of 07-11
    assert result["fails_in_first_half"] == 1.0 and result["fails_in_first_half_real_order"] == 0.0
    assert evaluation.reorder(dates, failed, score=np.zeros(4))["days_earlier"] == 0  # ties keep the real order


def test_precision_and_recall_at_the_top_of_the_list():
    score = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.05])
    failed = np.array([1, 0, 1, 1, 0, 0, 0, 0, 0, 0])
    assert evaluation.top_share(score, failed, 0.2) == (0.5, 1 / 3)
    assert evaluation.top_share(score, failed, 0.3) == (2 / 3, 2 / 3)


def test_row_order_does_not_change_the_model_or_its_version(table):
    settings = training.Settings(
        cutoff=pd.Timestamp("2014-09-01").date(), holdout_weeks=8, xgboost=SMALL, knn_sample=3000
    )
    subset = table[(table["week"] >= pd.Timestamp("2013-06-01")) & (table["week"] < pd.Timestamp("2015-01-01"))]
    shuffled = subset.sample(frac=1.0, random_state=3)
    first, second = training.fit(subset, settings), training.fit(shuffled, settings)
    assert first.metrics == second.metrics
    assert training.choose(first, subset).version == training.choose(second, shuffled).version
    fewer = training.fit(subset.iloc[10:], settings)
    assert training.choose(fewer, subset).version != training.choose(first, subset).version


def test_a_model_records_its_library_versions_and_refuses_to_score_under_others(table):
    import dataclasses
    import pickle

    subset = table[(table["week"] >= pd.Timestamp("2013-01-01")) & (table["week"] < pd.Timestamp("2014-01-01"))]
    settings = training.Settings(holdout_weeks=4, xgboost=SMALL, knn_sample=500)
    chosen = training.choose(training.fit(subset, settings), subset)
    assert chosen.libraries == training.library_versions() and "scikit-learn" in chosen.libraries
    assert "Trained with**: scikit-learn " in training.model_card(chosen, [])
    stored = pickle.loads(pickle.dumps(chosen))  # as the object store gives it back
    assert len(stored.score(subset.head(5))) == 5

    older = dataclasses.replace(stored, libraries={**stored.libraries, "scikit-learn": "1.5.0"})
    with pytest.raises(training.LibraryMismatchError, match=r"trained with scikit-learn 1\.5\.0 \(installed: 1\."):
        older.score(subset.head(5))
