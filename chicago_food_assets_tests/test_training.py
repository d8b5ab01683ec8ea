"""Training, temporal evaluation and selection on the bundled sample's real features."""

import re

import numpy as np
import pandas as pd
import pytest

from chicago_food_assets.core.features import own
from chicago_food_assets.core.models import artifacts, card, evaluation, selection, training
from chicago_food_assets.core.models.preparation import Preparation

SMALL = {
    "n_estimators": 60,
    "max_depth": 3,
    "learning_rate": 0.1,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 5,
}


@pytest.fixture(scope="module")
def cleaned(cleaned_sample) -> pd.DataFrame:
    return cleaned_sample.inspections


@pytest.fixture(scope="module")
def table(cleaned_sample) -> pd.DataFrame:
    return own.build(cleaned_sample.inspections, citations=cleaned_sample.violations)


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


@pytest.mark.integration  # full-size fits or feeds: tens of seconds, outside the fast tier
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


@pytest.mark.integration  # full-size fits or feeds: tens of seconds, outside the fast tier
def test_the_selected_model_beats_the_naive_baselines_on_the_sample(table):
    trained = training.fit(table, training.Settings())
    chosen = selection.choose(trained, table)
    best = chosen.metrics[chosen.name]
    assert best["roc_auc"] > chosen.metrics["baseline_previous_result"]["roc_auc"]
    assert best["roc_auc"] > chosen.metrics["baseline_fail_rate"]["roc_auc"] == 0.5
    assert best["days_earlier"] > max(chosen.metrics["baseline_previous_result"]["days_earlier"], 0)
    assert 0.6 < best["roc_auc"] < 0.9 and not selection.leakage_warnings(trained.metrics)


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
        numeric=(*own.NUMERIC, "critical_count", "serious_count", "violation_count"),
    )
    early = leaky[leaky["week"] < pd.Timestamp("2010-06-01")]  # 2010: every row has its violations recorded
    trained = training.fit(early, settings)
    warnings = selection.leakage_warnings(trained.metrics)
    assert warnings and all("possible leakage" in w for w in warnings)
    assert not selection.leakage_warnings(
        training.fit(early, training.Settings(**{**settings.__dict__, "numeric": own.NUMERIC})).metrics
    )


def test_selection_picks_the_best_by_the_configured_metric():
    metrics = {
        "xgboost": {"roc_auc": 0.68, "accuracy": 0.74, "brier": 0.18},
        "knn": {"roc_auc": 0.64, "accuracy": 0.77, "brier": 0.17},
        "logistic": {"roc_auc": 0.66, "accuracy": 0.75, "brier": 0.19},
    }
    assert selection.select(metrics, "roc_auc") == "xgboost"
    assert selection.select(metrics, "accuracy") == "knn"
    assert selection.select(metrics, "brier") == "knn"  # lower is better


def test_days_earlier_on_a_hand_made_window():
    dates = np.array(["2019-07-01", "2019-07-02", "2019-07-03", "2019-07-11"], dtype="datetime64[D]")
    failed = np.array([0, 0, 0, 1])
    result = evaluation.reorder(dates, failed, score=np.array([0.1, 0.2, 0.3, 0.9]))
    assert result["days_earlier"] == 10  # visited first: 07-01 instead of 07-11
    assert result["fails_in_first_half"] == 1.0 and result["fails_in_first_half_real_order"] == 0.0
    assert evaluation.reorder(dates, failed, score=np.zeros(4))["days_earlier"] == 0  # ties keep the real order


def test_the_citys_simulation_on_five_hand_made_inspections_breaks_ties_by_inspection_id():
    """The City's evaluation by hand: in score order (ties by inspection id, whatever the rows' order) the k-th
    inspection takes the k-th earliest date; days earlier is the positives' mean of real minus simulated date; the
    first half compares the positives dated before the median date with those scored above the median score."""
    rows = pd.DataFrame(  # given out of id order: ids 3 and 4 tie at 0.5, and id 4 comes first here
        {
            "inspection_id": [4, 1, 5, 3, 2],
            "date": pd.to_datetime(["2014-09-05", "2014-09-02", "2014-09-08", "2014-09-04", "2014-09-03"]),
            "score": [0.5, 0.1, 0.7, 0.5, 0.9],
            "positive": [1, 0, 1, 0, 1],
        }
    )
    result = evaluation.city_reorder(rows["inspection_id"], rows["date"].to_numpy(), rows["positive"], rows["score"])
    # by score: 2 (09-02), 5 (09-03), 3 (09-04), 4 (09-05), 1 (09-08); positives 2, 4, 5 gain 1, 0 and 5 days
    assert result["days_earlier"] == pytest.approx(2.0)  # had 4 gone before 3 (row order), it would be 7/3
    assert result["first_half_real"] == pytest.approx(1 / 3)  # before the median date 09-04: only 2
    assert result["first_half_model"] == pytest.approx(2 / 3)  # above the median score 0.5: 2 and 5
    assert result["found_later"] == 0.0
    nothing = evaluation.city_reorder(rows["inspection_id"], rows["date"].to_numpy(), np.zeros(5), rows["score"])
    assert nothing["days_earlier"] == 0.0  # no positive: nothing to find earlier


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
    assert selection.choose(first, subset).version == selection.choose(second, shuffled).version
    fewer = training.fit(subset.iloc[10:], settings)
    assert selection.choose(fewer, subset).version != selection.choose(first, subset).version


def test_a_model_records_its_library_versions_and_refuses_to_score_under_others(table):
    import dataclasses
    import pickle

    subset = table[(table["week"] >= pd.Timestamp("2013-01-01")) & (table["week"] < pd.Timestamp("2014-01-01"))]
    settings = training.Settings(holdout_weeks=4, xgboost=SMALL, knn_sample=500)
    chosen = selection.choose(training.fit(subset, settings), subset)
    assert chosen.libraries == artifacts.library_versions() and "scikit-learn" in chosen.libraries
    assert "Trained with**: scikit-learn " in card.model_card(chosen, [])
    stored = pickle.loads(pickle.dumps(chosen))  # as the object store gives it back
    assert len(stored.score(subset.head(5))) == 5

    older = dataclasses.replace(stored, libraries={**stored.libraries, "scikit-learn": "1.5.0"})
    with pytest.raises(artifacts.LibraryMismatchError, match=r"trained with scikit-learn 1\.5\.0 \(installed: 1\."):
        older.score(subset.head(5))


def test_permuting_one_days_outcomes_and_violations_changes_no_score_on_or_before_that_day(
    cleaned_sample, cleaned, table
):
    """The no-future guard at the level inspectors see: a fitted model's scores, not only the features."""
    settings = training.Settings(holdout_weeks=4, xgboost=SMALL, knn_sample=2000, backtest_cutoffs=1)
    chosen = selection.choose(training.fit(table, settings), table)
    by_day = cleaned.groupby("inspection_date")["failed"].agg(["size", "mean"])
    day = by_day[(by_day["size"] >= 20) & by_day["mean"].between(0.2, 0.8)].index[len(by_day) // 40]
    on_day = cleaned.index[cleaned["inspection_date"] == day]
    permuted = cleaned.copy()
    shuffle = np.random.default_rng(1).permutation(len(on_day))
    for column in ("failed", "results", "critical_count", "serious_count", "minor_count", "violations_recorded"):
        permuted.loc[on_day, column] = permuted.loc[on_day, column].to_numpy()[shuffle]
    ids = cleaned.loc[on_day, "inspection_id"].to_numpy()
    citations = cleaned_sample.violations.assign(  # the cited items move with the rest of the row
        inspection_id=cleaned_sample.violations["inspection_id"].replace(dict(zip(ids[shuffle], ids, strict=True)))
    )
    assert (permuted.loc[on_day, "failed"] != cleaned.loc[on_day, "failed"]).any()
    before = pd.Series(chosen.score(table), index=table["inspection_id"])
    rebuilt = own.build(permuted, citations=citations)
    after = pd.Series(chosen.score(rebuilt), index=rebuilt["inspection_id"])
    dates = table.set_index("inspection_id")["inspection_date"]
    until = dates.index[dates <= day]
    pd.testing.assert_series_equal(before.loc[until], after.loc[until])
    later = dates.index[dates > day]
    assert (before.loc[later] != after.loc[later]).any(), "the permutation reached no later score: a vacuous test"


@pytest.fixture(scope="module")
def backtested(table) -> training.Trained:
    """A fit with every backtest cutoff (small trees), shared by the backtest's and the calibration's tests."""
    return training.fit(table, training.Settings(xgboost=SMALL, knn_sample=3000))


def test_the_backtest_has_every_cutoff_and_a_pooled_row_with_an_interval(backtested):
    trained = backtested
    backtest = trained.backtest
    cutoffs = sorted(set(backtest["cutoff"]) - {evaluation.POOLED})
    assert len(cutoffs) >= 3 and cutoffs[-1] == str(trained.window.cutoff)  # the holdout's window is the last
    for earlier in cutoffs[:-1]:  # a year apart, each with its own fit strictly before it
        assert (pd.Timestamp(cutoffs[-1]) - pd.Timestamp(earlier)).days % 364 == 0
    pooled = trained.pooled
    assert set(pooled.index) == {"xgboost", "knn", "logistic", "baseline_previous_result", "baseline_fail_rate"}
    assert (pooled["roc_auc_low"] <= pooled["roc_auc"]).all() and (pooled["roc_auc"] <= pooled["roc_auc_high"]).all()
    assert pooled.loc["xgboost", "rows"] == backtest[backtest["model"] == "xgboost"]["rows"].iloc[:-1].sum()
    for name in ("xgboost", "knn", "logistic"):  # every candidate beats both naive baselines, pooled
        for metric in ("roc_auc", "average_precision", "precision_top_10pct", "precision_top_20pct", "days_earlier"):
            assert pooled.loc[name, metric] > pooled.loc["baseline_previous_result", metric], (name, metric)
            assert pooled.loc[name, metric] > pooled.loc["baseline_fail_rate", metric], (name, metric)


def test_a_bootstrap_interval_holds_the_auc_and_narrows_with_more_rows():
    rng = np.random.default_rng(0)
    failed = rng.random(4000) < 0.3
    score = failed * 0.5 + rng.random(4000)
    small = evaluation.auc_interval(failed[:400], score[:400], boot=300)
    large = evaluation.auc_interval(failed, score, boot=300)
    from sklearn.metrics import roc_auc_score

    assert large[0] < roc_auc_score(failed, score) < large[1]
    assert large[1] - large[0] < small[1] - small[0]
    assert evaluation.auc_interval(failed, np.full(4000, 0.3)) == (0.5, 0.5)  # ties count half


def test_each_bootstrap_auc_is_the_one_average_ranks_give():
    """The interval counts pairs from one sort of the scores; each resample's AUC must be scikit-learn's (ties half)
    on that resample's rows, to 1e-12 (scikit-learn sums trapezoids), with ties and a few rows as well as many."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(4)
    for rows, digits in ((60, 1), (3000, 2), (3000, 12)):
        failed = rng.random(rows) < 0.3
        score = np.round(failed * 0.3 + rng.random(rows), digits)
        draws = np.random.default_rng(0).integers(0, rows, size=(40, rows))  # the resamples the interval draws
        aucs = [roc_auc_score(failed[r], score[r]) for r in draws if 0 < failed[r].sum() < rows]
        low, high = np.nanpercentile(aucs, [2.5, 97.5])
        assert evaluation.auc_interval(failed, score, boot=40, seed=0) == pytest.approx((low, high), abs=1e-12)


def test_selection_prefers_the_simpler_model_inside_the_best_ones_interval():
    def trained_with(aucs: dict[str, tuple[float, float]]) -> training.Trained:
        rows = [
            {"model": name, "cutoff": evaluation.POOLED, "roc_auc": auc, "roc_auc_low": low, "roc_auc_high": 1.0}
            for name, (auc, low) in aucs.items()
        ]
        candidates = {name: None for name in aucs}
        return training.Trained(candidates, {}, training.Settings(), None, 0, pd.DataFrame(), "", pd.DataFrame(rows))

    close = trained_with({"xgboost": (0.70, 0.68), "knn": (0.66, 0.64), "logistic": (0.685, 0.66)})
    assert selection.choice(close)[0] == "logistic"  # 0.685 is inside xgboost's [0.68, ...]
    apart = trained_with({"xgboost": (0.70, 0.69), "knn": (0.66, 0.64), "logistic": (0.685, 0.66)})
    assert selection.choice(apart)[0] == "xgboost"


def test_scores_are_calibrated_before_the_holdout_without_changing_their_order(table):
    from sklearn.metrics import roc_auc_score

    settings = training.Settings(xgboost=SMALL, knn_sample=3000, backtest_cutoffs=1)
    trained = training.fit(table, settings)
    chosen = selection.choose(trained, table)
    calibration = chosen.calibration  # no earlier backtest window: fitted on the last training weeks
    last_week = pd.Timestamp(re.findall(r"\d{4}-\d{2}-\d{2}", calibration.weeks)[-1])
    assert last_week < pd.Timestamp(chosen.window.cutoff) and calibration.rows > 500  # fitted before the holdout
    assert (calibration.slope, calibration.intercept) != (1.0, 0.0)
    raw = trained.holdout[f"score_{chosen.name}"].to_numpy()
    failed = chosen.holdout["outcome"].to_numpy()
    assert roc_auc_score(failed, chosen.holdout["score"]) == pytest.approx(roc_auc_score(failed, raw))  # monotone
    holdout_rows = table[table["inspection_id"].isin(chosen.holdout["inspection_id"])]
    assert chosen.score(holdout_rows) == pytest.approx(calibration.apply(chosen.raw_score(holdout_rows)))
    reliability = chosen.reliability
    assert len(reliability) == 10 and reliability["rows"].sum() == len(chosen.holdout)
    assert reliability["predicted"].is_monotonic_increasing
    assert "## Calibration" in card.model_card(chosen, [])


def test_with_earlier_backtest_windows_calibration_fits_on_their_out_of_time_scores(table, backtested):
    trained, settings = backtested, backtested.settings
    chosen = selection.choose(trained, table)
    earlier = trained.earlier_windows
    assert len(earlier) == chosen.calibration.rows > 500
    cutoff = pd.Timestamp(chosen.window.cutoff)
    assert set(earlier["cutoff"]) == set(training.backtest_cutoffs(table, settings, cutoff)[:-1]) != set()
    assert earlier["inspection_date"].max() < cutoff  # the holdout takes no part
    assert not set(earlier["inspection_id"]) & set(chosen.holdout["inspection_id"])
    expected = evaluation.platt(earlier[f"score_{chosen.name}"], earlier["outcome"])
    assert (chosen.calibration.slope, chosen.calibration.intercept) == pytest.approx(
        (expected.slope, expected.intercept)
    )
    assert "backtest's earlier windows" in card.model_card(chosen, [])


QUICK = training.Settings(xgboost=SMALL, knn_sample=2000, backtest_cutoffs=1, holdout_weeks=4)


@pytest.fixture(scope="module")
def quick(table) -> training.Trained:
    """One quick fit of every candidate, shared by the tests that only read it."""
    return training.fit(table, QUICK)


@pytest.mark.parametrize("name", ["xgboost", "logistic"])
def test_each_rows_contributions_add_up_with_the_base_value_to_its_raw_score(table, quick, name):
    import dataclasses
    import json

    from chicago_food_assets.core.models import reasons

    settings, trained = QUICK, quick
    selected = selection.choose(trained, table)
    selected = dataclasses.replace(selected, name=name, pipeline=trained.candidates[name].pipeline)
    rows = table.sample(3000, random_state=0).reset_index(drop=True)
    contributed, base = reasons.contributions(selected.pipeline, training.model_frame(rows, settings))
    raw = selected.raw_score(rows)
    assert contributed.shape == (len(rows), len(selected.features))
    assert base + contributed.sum(axis=1) == pytest.approx(np.log(raw / (1 - raw)), abs=1e-4)
    explained = reasons.explain(selected, rows)
    for text, row in zip(explained.iloc[:300], contributed[:300], strict=True):  # a sample, read as a client would
        items = json.loads(text)
        assert len(items) <= reasons.TOP
        strengths = [item["contribution"] for item in items]
        assert strengths == sorted(strengths, reverse=True) and all(s > 0 for s in strengths)
        top = np.sort(row)[::-1][: reasons.TOP]  # shown reasons are among the strongest; a silent one is left out
        assert all(min(abs(top - s)) < 1e-4 for s in strengths)
        said = [item["reason"] for item in items]
        assert len(said) == len(set(said)), "a reason said twice (latitude and longitude: its area)"
        for item in items:  # plain words a supervisor can read, not a column name or an empty "no"
            assert item["reason"] and item["reason"] != item["feature"] and "_" not in item["reason"]
            assert item["reason"] not in ("not a re-inspection", "not after a failed canvass", "its location")
    words = [item for text in explained for item in json.loads(text)]
    assert len(words) > 1000  # most rows still say why


def test_a_model_without_contributions_gives_no_reasons(table, quick):
    from chicago_food_assets.core.models import reasons

    knn = quick.candidates["knn"].pipeline
    assert reasons.contributions(knn, training.model_frame(table.head(50), QUICK)) is None


def test_a_model_stored_by_an_older_version_is_refused_saying_how_to_retrain():
    """The one place an older stored model is met: loading it. A pickle without a field this version reads (a model
    saved before calibration existed, say) is refused, naming the field and the `training` job."""
    import pickle

    trained = training.Trained({}, {}, training.Settings(), None, 0, pd.DataFrame(), "")
    assert pickle.loads(pickle.dumps(trained)).settings == trained.settings  # a current one loads
    old = pickle.dumps(trained)
    del trained.__dict__["earlier_windows"]  # what an older version pickled
    older = pickle.dumps(trained)
    with pytest.raises(
        artifacts.OutdatedModelError, match=r"has no earlier_windows\): retrain it with the `training` job"
    ):
        pickle.loads(older)
    assert pickle.loads(old).earlier_windows.empty


def _scikit_learn_preparation(numeric: list[str], categorical: list[str], scale: bool):
    """What the candidates' preparation was built of before core/models/preparation.py: scikit-learn's own parts."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = [("impute", SimpleImputer(strategy="median", add_indicator=True))]
    categories = [
        ("impute", SimpleImputer(strategy="constant", fill_value="missing", missing_values=None)),
        ("encode", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20, sparse_output=False)),
    ]
    return ColumnTransformer(
        [
            ("numeric", Pipeline(numbers + ([("scale", StandardScaler())] if scale else [])), numeric),
            ("categorical", Pipeline(categories), categorical),
        ],
        verbose_feature_names_out=False,
    )


@pytest.mark.parametrize("scale", [False, True])
def test_the_preparation_computes_what_scikit_learns_imputers_scaler_and_encoder_compute(table, scale):
    """The sample's real feature rows, fitted on its first 30,000 and applied to the rest (with a ZIP and a facility
    type the fit never saw), plus a constant column: the same matrix and column names as scikit-learn's."""
    settings = training.Settings()
    frame = training.model_frame(table, settings).assign(constant=1.0)
    numeric = [*settings.numeric, "constant"]
    fit, rest = frame.iloc[:30_000], frame.iloc[30_000:].copy()
    rest.iloc[::50, list(rest.columns).index("zip")] = "99999"  # values the fit never saw
    rest.iloc[::70, list(rest.columns).index("facility_type")] = "spaceport"
    assert fit[list(settings.numeric)].isna().any().any() and fit["zip"].isna().any()
    assert (fit["zip"].value_counts() < 20).any()  # rare values: one column of their own
    ours = Preparation(tuple(numeric), settings.categorical, scale=scale).fit(fit)
    theirs = _scikit_learn_preparation(numeric, list(settings.categorical), scale).fit(fit)
    for rows in (fit, rest):
        np.testing.assert_allclose(ours.transform(rows), theirs.transform(rows), rtol=1e-9, atol=1e-9)
    assert list(ours.get_feature_names_out()) == list(theirs.get_feature_names_out())


def test_the_preparation_keeps_a_column_without_values_and_encodes_a_missing_category_as_missing():
    frame = pd.DataFrame({"empty": [np.nan] * 4, "number": [1.0, np.nan, 3.0, 5.0], "kind": ["a", None, "a", "a"]})
    prepared = Preparation(("empty", "number"), ("kind",), min_frequency=1).fit(frame)
    names = list(prepared.get_feature_names_out())
    assert names == ["empty", "number", "missingindicator_empty", "missingindicator_number", "kind_a", "kind_missing"]
    out = prepared.transform(pd.DataFrame({"empty": [np.nan], "number": [np.nan], "kind": ["b"]}))
    assert out.tolist() == [[0.0, 3.0, 1.0, 1.0, 0.0, 0.0]]  # imputed 0 and the median; "b" is unseen, no rare


@pytest.mark.integration  # full-size fits or feeds: tens of seconds, outside the fast tier
def test_the_critical_target_fits_and_judges_only_inspections_whose_violations_were_recorded(table):
    """On the bundled sample's real rows: 3,666 of 41,196 have recorded violations (the 2010, 2013 and 2019-2020
    extracts), so the holdout is the last 8 weeks with 15 of them; the others sit out of fitting and metrics."""
    settings = training.Settings(
        xgboost=SMALL, knn_sample=2000, target="critical_found", min_week_rows=15, holdout_weeks=8
    )
    trained = training.fit(table, settings)
    known = table[table["critical_found"].notna()]
    cutoff = pd.Timestamp(trained.window.cutoff)
    assert trained.train_rows == int((known["week"] < cutoff).sum()) < int((table["week"] < cutoff).sum())
    held = known.set_index("inspection_id").loc[trained.holdout["inspection_id"]]
    assert len(trained.holdout) == int(
        ((known["week"] >= cutoff) & (known["week"] < pd.Timestamp(trained.window.end))).sum()
    )
    assert (trained.holdout["outcome"].to_numpy() == held["critical_found"].to_numpy(dtype=bool)).all()
    assert trained.holdout["outcome"].mean() != pytest.approx(held["failed"].mean())  # another question
    chosen = selection.choose(trained, table)
    assert (
        chosen.target.name == "critical_found"
        and chosen.version
        != selection.choose(
            training.fit(table, training.Settings(xgboost=SMALL, knn_sample=2000, min_week_rows=15, holdout_weeks=8)),
            table,
        ).version
    )
    text = card.model_card(chosen, [])
    assert "**Target**: `critical_found`" in text and "protocol on the same windows (target `critical_found`)" in text
    assert len(chosen.score(table.head(50))) == 50  # rows of unknown outcome are still scored
    with pytest.raises(ValueError, match="unknown target 'critical'"):
        training.fit(table, training.Settings(target="critical"))


def test_chicagos_protocol_judges_canvass_inspections_of_each_windows_first_60_days():
    """Two hand-made windows: re-inspections, other kinds and rows after day 60 are left out; what remains is
    re-ordered by score as the City did (`city_reorder`), and the pooled row weights the windows by their positives."""
    rng = np.random.default_rng(1)
    parts = []
    for cutoff in ("2019-07-01", "2020-06-29"):
        n = 300
        parts.append(
            pd.DataFrame(
                {
                    "cutoff": pd.Timestamp(cutoff),
                    "inspection_id": rng.permutation(n) + 1,
                    "inspection_date": pd.Timestamp(cutoff) + pd.to_timedelta(np.sort(rng.integers(0, 84, n)), "D"),
                    "inspection_kind": rng.choice(["canvass", "complaint"], n, p=[0.7, 0.3]),
                    "reinspection": rng.random(n) < 0.2,
                    "outcome": rng.random(n) < 0.25,
                    "score_model": rng.random(n),
                }
            )
        )
    for part in parts:
        part["score_model"] += part["outcome"] * 0.3  # a score that knows something
    windows = pd.concat(parts, ignore_index=True)
    table = evaluation.chicago(windows, ["model"]).set_index("cutoff")
    positives = []
    for part in parts:
        first = part["inspection_date"].min()
        kept = part[
            (part["inspection_kind"] == "canvass")
            & ~part["reinspection"]
            & (part["inspection_date"] < first + pd.Timedelta(days=60))
        ]
        assert 0 < len(kept) < len(part)
        expected = evaluation.city_reorder(
            kept["inspection_id"],
            kept["inspection_date"].to_numpy(),
            kept["outcome"].to_numpy(dtype=int),
            kept["score_model"].to_numpy(),
        )
        row = table.loc[str(part["cutoff"].iloc[0].date())]
        assert row["rows"] == len(kept) and row["positives"] == kept["outcome"].sum()
        for name in ("days_earlier", "first_half_model", "first_half_real", "found_later"):
            assert row[name] == pytest.approx(expected[name])
        assert 0 < row["found_later"] < 1 and row["roc_auc"] > 0.6
        positives.append((row["positives"], row["days_earlier"]))
    pooled = table.loc[evaluation.POOLED]
    weights, values = zip(*positives, strict=True)
    assert pooled["days_earlier"] == pytest.approx(np.average(values, weights=weights))
    assert pooled["rows"] == table.drop(index=evaluation.POOLED)["rows"].sum()


def test_a_training_config_adds_candidate_features_to_the_inputs_and_refuses_other_names(table):
    """The training assets' `candidates` (how `benchmarks.city2014 --candidates` tries one through the pipeline): the
    default is the model inputs as they are, so the default model and its version do not change."""
    from chicago_food_assets.assets.models import TrainingConfig

    assert TrainingConfig().settings() == training.Settings()
    settings = TrainingConfig(candidates=["facility_season", "pests_citations_last_2_years"]).settings()
    assert settings.categorical == (*training.Settings().categorical, "facility_season")
    assert "pests_citations_last_2_years" in settings.numeric
    assert set(training.model_frame(table, settings).columns) >= {"facility_season", "pests_citations_last_2_years"}
    with pytest.raises(ValueError, match="not candidate features: season; the candidates: fails_last_year"):
        TrainingConfig(candidates=["season"]).settings()  # an input already, not a candidate


def test_each_target_reads_its_inputs_and_the_default_models_inputs_are_unchanged():
    """`zip_critical_rate` is an input of the `critical_found` models only (their backtest and the City's window
    gained from it; the `failed` backtest did not): the default settings of each target say so."""
    assert training.Settings().numeric == own.NUMERIC and training.Settings().categorical == own.CATEGORICAL
    critical = training.Settings(target="critical_found")
    assert set(critical.numeric) - set(own.NUMERIC) == {"zip_critical_rate"}
    assert critical.categorical == own.CATEGORICAL
    assert "zip_critical_rate" not in training.Settings(target="failed").numeric


@pytest.mark.parametrize("depth", [3, 5])
def test_contributions_are_xgboosts_own_bit_for_bit(table, depth):
    """`treeshap` gives every row its tree-by-tree pattern's values instead of running TreeSHAP per row: the numbers
    must be XGBoost's exactly (what reasons, API bodies and ETags are built from). Depth 3 takes the pattern tables
    (rows in batches, so later batches meet patterns the first did not), depth 5 (31 splits a tree) XGBoost itself;
    the rows hold missing values and one-hot categories."""
    from xgboost import DMatrix, XGBClassifier

    from chicago_food_assets.core.models import treeshap

    settings = training.Settings(xgboost={**SMALL, "max_depth": depth})
    rows = table.sample(6000, random_state=1).reset_index(drop=True)
    prepare = training._preprocess(settings, scale=False)
    x = np.asarray(prepare.fit_transform(training.model_frame(rows, settings)), dtype=float)
    x[::7, 0] = np.nan  # missing values go each split's default way
    model = XGBClassifier(**settings.xgboost, tree_method="hist", n_jobs=2, random_state=0)
    model.fit(x[:4000], training.outcome(rows, settings)[:4000])
    booster = model.get_booster()
    contributions = treeshap.Contributions(booster)
    assert contributions.exact == (depth == 3)
    expected = booster.predict(DMatrix(x), pred_contribs=True)
    batches = [contributions(x[start : start + 1000]) for start in range(0, len(x), 1000)]
    np.testing.assert_array_equal(np.vstack(batches), expected)
    if depth == 3:
        assert sum(int(tree.known.sum()) for tree in contributions.trees) > 60  # tables, not one row per tree


def test_reasons_are_json_even_when_the_words_hold_quotes_and_backslashes():
    """The reasons' JSON is joined from pieces, not dumped: a value with quotes and a backslash must come back as it
    was, strongest first, and a reason that lowers the score is left out."""
    import json

    from chicago_food_assets.core.models import reasons

    table = pd.DataFrame({"facility_type": ['Joe\'s "Deli" \\ North', "Restaurant"], "zip": ["60613", None]})
    contributed = np.array([[0.5, 0.25], [-0.1, 0.3]])
    listed = [json.loads(text) for text in reasons.reasons(table, ("facility_type", "zip"), contributed)]
    assert listed[0] == [
        {"feature": "facility_type", "reason": 'facility type Joe\'s "Deli" \\ North', "contribution": 0.5},
        {"feature": "zip", "reason": "ZIP code 60613", "contribution": 0.25},
    ]
    assert [item["feature"] for item in listed[1]] == ["zip"] and listed[1][0]["contribution"] == 0.3
