"""The weekly visit list on real rows: the register, who is due, planned inspections' features, the list itself, and
the prospective evaluation, each against what it must be."""

import multiprocessing
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chicago_food_assets.core.declarations.contracts import VISIT_LIST
from chicago_food_assets.core.features import own
from chicago_food_assets.core.lists import batch, prospective, visits


@pytest.fixture(scope="module")
def inspections(cleaned_sample) -> pd.DataFrame:
    return cleaned_sample.inspections


@pytest.fixture(scope="module")
def model(pipeline):
    """The model the pipeline fixture selected (quick settings), as the list's asset loads it."""
    folder = Path(pipeline["resources"]["model_io_manager"].base_dir)
    return pickle.loads((folder / "selected_model").read_bytes())


def _place(rows: list[dict]) -> pd.DataFrame:
    """Clean-inspection-shaped rows for hand-made cases."""
    defaults = {
        "inspection_kind": "canvass",
        "reinspection": False,
        "results": "Pass",
        "license": 1,
        "dba_name": "A PLACE",
        "aka_name": None,
        "address": "1 N STATE ST",
        "zip": "60602",
        "latitude": 41.88,
        "longitude": -87.63,
        "facility_type": "Restaurant",
        "risk": 1,
        "chain": "A PLACE",
    }
    frame = pd.DataFrame([{**defaults, **row} for row in rows])
    frame["inspection_date"] = pd.to_datetime(frame["inspection_date"])
    frame["risk"] = frame["risk"].astype("Int16")
    return frame


def _visits(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["inspection_id", "inspection_date", "establishment", "results", "license", "risk"]
    )
    for name in ("dba_name", "aka_name", "address", "zip", "latitude", "longitude"):
        frame[name] = None
    frame["inspection_date"] = pd.to_datetime(frame["inspection_date"])
    return frame


NO_VISITS = _visits([])


@pytest.mark.integration  # full-size fits or feeds: tens of seconds, outside the fast tier
def test_a_planned_inspection_on_a_real_canvass_day_has_exactly_that_inspections_features(inspections, cleaned_sample):
    """One feature builder: a place planned on the day of one of its real canvass inspections (its type, risk, ZIP
    and coordinates unchanged) gets the features that inspection has."""
    table = inspections.sort_values(["establishment", "inspection_date", "inspection_id"])
    previous = table.groupby("establishment")[["risk", "facility_type", "zip", "latitude", "chain"]].shift()
    same = (
        (previous["risk"] == table["risk"]).fillna(False)
        & (previous["facility_type"] == table["facility_type"]).fillna(False)
        & (previous["zip"] == table["zip"]).fillna(False)
        & (previous["latitude"] == table["latitude"]).fillna(False)
        & (previous["chain"] == table["chain"]).fillna(False)
    )
    later_canvass = table[
        same.to_numpy(dtype=bool)
        & (table["inspection_kind"] == "canvass").to_numpy(dtype=bool)
        & ~table["reinspection"].to_numpy(dtype=bool)
        & ~table.duplicated(["establishment", "inspection_date"], keep=False).to_numpy()
    ]
    chosen = later_canvass.sample(40, random_state=3)
    real = own.build(chosen, inspections, cleaned_sample.violations).set_index("inspection_id")
    compared = 0
    for row in chosen.itertuples(index=False):  # 40 cases, each its own register: a test, not a data path
        day = pd.Timestamp(row.inspection_date)
        place = visits.register(inspections, NO_VISITS, before=day)
        place = place[place["establishment"] == row.establishment]
        planned = visits.planned_features(place, day, inspections, cleaned_sample.violations).iloc[0]
        expected = real.loc[row.inspection_id]
        for name in own.BUILT:
            left, right = planned[name], expected[name]
            assert (pd.isna(left) and pd.isna(right)) or left == pytest.approx(right), (row.inspection_id, name)
        compared += 1
    assert compared == 40


def test_a_planned_canvass_is_as_overdue_as_the_visit_list_counts_it(inspections, cleaned_sample):
    """`days_overdue`, the feature, is the list's own count: from the last canvass, else the last inspection."""
    week = pd.Timestamp("2019-06-03")
    places = visits.register(inspections, NO_VISITS, before=week)
    due = visits.due(places, week, visits.ListSettings(include_not_due=True))  # overdue or not: negative counts too
    planned = visits.planned_features(due, week, inspections, cleaned_sample.violations)
    assert len(due) > 1000 and due["last_canvass"].isna().any() and (due["days_overdue"] < 0).any()
    assert planned["days_overdue"].tolist() == due["days_overdue"].tolist()


def test_the_register_keeps_the_latest_values_and_the_status_of_the_last_visit():
    rows = _place(
        [
            {"inspection_id": 1, "inspection_date": "2015-01-05", "establishment": "license:1", "risk": 2},
            {
                "inspection_id": 2,
                "inspection_date": "2016-01-05",
                "establishment": "license:1",
                "risk": 1,
                "facility_type": "Bakery",
                "latitude": np.nan,
                "longitude": np.nan,
            },
            {"inspection_id": 3, "inspection_date": "2015-03-01", "establishment": "license:2", "license": 2},
            {"inspection_id": 4, "inspection_date": "2015-03-01", "establishment": "license:3", "license": 3},
            {
                "inspection_id": 5,
                "inspection_date": "2015-03-01",
                "establishment": "name:TACO|1 N STATE ST",
                "license": 0,
                "dba_name": "TACO",
            },
        ]
    )
    closing = _visits(
        [
            (10, "2015-06-01", "license:2", "Out of Business", 2, 1),  # closed, nothing after: gone
            (11, "2015-02-01", "license:3", "Out of Business", 3, 1),  # inspected after: still there
            (12, "2016-02-01", "license:1", "Not Ready", 1, 1),  # there, not ready
        ]
    )
    register = visits.register(rows, closing).set_index("establishment")
    assert register.loc["license:1", "risk"] == 1 and register.loc["license:1", "facility_type"] == "Bakery"
    assert register.loc["license:1", "latitude"] == pytest.approx(41.88)  # a missing value keeps the older one
    assert register.loc["license:1", "last_visit"] == pd.Timestamp("2016-02-01")
    assert register.loc["license:1", "last_inspection"] == pd.Timestamp("2016-01-05")
    assert register["status"].to_dict() == {
        "license:1": "active",
        "license:2": "out_of_business",
        "license:3": "active",
        "name:TACO|1 N STATE ST": "active",
    }
    assert register.loc["name:TACO|1 N STATE ST", "license"] == 0


def test_who_is_due_follows_the_canvass_frequency_by_risk():
    rows = _place(
        [
            {"inspection_id": 1, "inspection_date": "2019-06-03", "establishment": "license:1", "risk": 1},
            {"inspection_id": 2, "inspection_date": "2019-06-03", "establishment": "license:2", "risk": 2},
            {"inspection_id": 3, "inspection_date": "2018-06-04", "establishment": "license:3", "risk": 2},
            {"inspection_id": 4, "inspection_date": "2018-06-04", "establishment": "license:4", "risk": 3},
            {"inspection_id": 5, "inspection_date": "2010-06-07", "establishment": "license:5", "risk": 1},
        ]
    )
    register = visits.register(rows, NO_VISITS)
    week = pd.Timestamp("2019-12-02")  # risk 1 due 182 days after 2019-06-03: 2019-12-02
    due = visits.due(register, week, visits.ListSettings()).set_index("establishment")
    assert sorted(due.index) == ["license:1", "license:3"]  # license:5: not seen for 9 years
    assert due.loc["license:1", "days_overdue"] == 0 and due.loc["license:3", "days_overdue"] == 181
    everyone = visits.due(register, week, visits.ListSettings(include_not_due=True, within_years=20))
    assert len(everyone) == 5 and (everyone.set_index("establishment").loc["license:4", "days_overdue"] < 0)
    slower = visits.ListSettings(frequency_days={1: 365, 2: 365, 3: 730})
    assert list(visits.due(register, week, slower)["establishment"]) == ["license:3"]


def test_a_list_reads_nothing_dated_on_or_after_its_monday(inspections, cleaned_sample, model):
    """Every outcome, violation and visit dated W's Monday or later changed: no list of W or earlier changes."""
    week = pd.Timestamp("2013-06-03")
    changed = inspections.copy()
    later = (changed["inspection_date"] >= week).to_numpy()
    changed.loc[later, "failed"] = ~changed.loc[later, "failed"].astype(bool)
    changed.loc[later, "results"] = np.where(changed.loc[later, "results"] == "Fail", "Pass", "Fail")
    for name in ("critical_count", "serious_count", "minor_count"):
        changed.loc[later, name] = 9
    changed.loc[later, "risk"] = 3
    citations = cleaned_sample.violations.copy()
    late_ids = set(inspections.loc[later, "inspection_id"])
    citations.loc[citations["inspection_id"].isin(late_ids), "number"] = 1
    closing = cleaned_sample.visits.copy()
    gone = inspections.loc[later].drop_duplicates("establishment").head(500)
    closing_later = _visits(
        [
            (10**9 + i, week + pd.Timedelta(days=1), place, "Out of Business", 1, 1)
            for i, place in enumerate(gone["establishment"])
        ]
    )
    for day in (week - pd.Timedelta(days=7), week):
        before = visits.visit_list(day, inspections, cleaned_sample.visits, cleaned_sample.violations, model)
        after = visits.visit_list(day, changed, pd.concat([closing, closing_later]), citations, model)
        assert len(before) > 100
        pd.testing.assert_frame_equal(before, after)


def test_a_list_ranks_every_due_place_with_names_addresses_and_reasons(inspections, cleaned_sample, model):
    week = pd.Timestamp("2013-07-01")
    table = visits.visit_list(week, inspections, cleaned_sample.visits, cleaned_sample.violations, model)
    assert list(table.columns) == list(VISIT_LIST.names)
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    assert table["establishment"].is_unique and table["dba_name"].notna().all() and table["address"].notna().all()
    assert (table["due_date"] < week + pd.Timedelta(days=7)).all()
    assert table["score"].between(0, 1).all() and table["model_version"].eq(model.version).all()
    register = visits.register(inspections, cleaned_sample.visits, before=week)
    assert not set(table["establishment"]) & set(register.loc[register["status"] != "active", "establishment"])
    if model.decision is None or model.decision.deployed == "single":
        assert table["score"].is_monotonic_decreasing
    assert table["reasons"].notna().mean() > 0.9 or model.name != "xgboost"
    short = visits.visit_list(
        week, inspections, cleaned_sample.visits, cleaned_sample.violations, model, visits.ListSettings(max_length=25)
    )
    pd.testing.assert_frame_equal(short, table.head(25))


def test_a_place_without_coordinates_is_listed_and_marked_off_the_map(inspections, cleaned_sample, model):
    week = pd.Timestamp("2013-07-01")
    table = visits.visit_list(week, inspections, cleaned_sample.visits, cleaned_sample.violations, model)
    place = table["establishment"].iloc[3]
    moved = inspections.copy()
    moved.loc[moved["establishment"] == place, ["latitude", "longitude"]] = np.nan
    again = visits.visit_list(week, moved, cleaned_sample.visits, cleaned_sample.violations, model)
    row = again.set_index("establishment").loc[place]
    assert not row["on_map"] and pd.isna(row["latitude"])
    assert again["on_map"].sum() == len(again) - 1


def test_a_week_too_far_in_the_future_is_refused_with_the_reason():
    visits.refuse_future(pd.Timestamp("2020-03-09"), pd.Timestamp("2020-03-02"))  # the week after: allowed
    with pytest.raises(visits.FutureWeekError, match="newest inspections stored are of the week of 2020-03-02"):
        visits.refuse_future(pd.Timestamp("2020-03-16"), pd.Timestamp("2020-03-02"))
    with pytest.raises(visits.FutureWeekError, match="no inspections are stored"):
        visits.refuse_future(pd.Timestamp("2020-03-16"), None)


def test_the_prospective_evaluation_matches_a_hand_computation():
    """A list of 4 places; the week had 6 inspections: 4 at listed places (one of them twice), 2 elsewhere."""
    week = pd.Timestamp("2015-03-02")
    plan = pd.DataFrame(
        {
            "week": week,
            "establishment": ["a", "b", "c", "d"],
            "rank": [1, 2, 3, 4],
            "score": [0.9, 0.6, 0.4, 0.1],
            "model_version": "m",
            "period": "holdout",
        }
    )
    seen = pd.DataFrame(
        {
            "week": week,
            "inspection_id": [1, 2, 3, 4, 5, 6],
            "inspection_date": pd.to_datetime(
                ["2015-03-06", "2015-03-02", "2015-03-04", "2015-03-03", "2015-03-05", "2015-03-06"]
            ),
            "establishment": ["a", "c", "d", "x", "y", "c"],
            "failed": [True, False, True, False, True, True],
            "inspection_kind": ["canvass", "canvass", "complaint", "canvass", "canvass", "canvass"],
            "reinspection": [False, False, False, False, False, True],
        }
    )
    rows = prospective.outcomes(seen, plan)
    assert list(rows["listed"]) == [True, True, True, False, False, True]
    result = prospective.evaluate(rows, listed=4)
    # coverage: 4 of 6 inspections at listed places; canvass (not re-inspections): a, c, x, y -> 2 of 4
    assert result["coverage"] == pytest.approx(4 / 6) and result["canvass_coverage"] == pytest.approx(0.5)
    # ranked: each listed place's first canvass inspection: a (fail, 0.9, 03-06), c (pass, 0.4, 03-02); d's was a
    # complaint and c's second a re-inspection
    assert result["inspected_on_list"] == 2 and result["fails_on_list"] == 1 and result["fails"] == 4
    assert result["roc_auc"] == pytest.approx(1.0)
    assert result["precision_top_10"] == 1.0 and result["precision_top_20"] == 1.0  # one place each: a, failed
    # re-ordering: the days 03-02 and 03-06 go to a and c in list order; a is found 4 days earlier
    assert result["days_earlier"] == pytest.approx(4.0)
    # the first half ends at 03-04: the real order finds a on 03-06 (after it), the list's on 03-02
    assert result["first_half_real"] == pytest.approx(0.0) and result["first_half_list"] == pytest.approx(1.0)
    table = prospective.table(rows)
    assert list(table["scope"]) == ["2015-03-02", "pooled"]
    assert table["roc_auc"].tolist() == pytest.approx([1.0, 1.0])


def test_a_week_without_inspections_has_nothing_to_judge():
    empty = prospective.outcomes(
        pd.DataFrame(
            columns=[
                "week",
                "inspection_id",
                "inspection_date",
                "establishment",
                "failed",
                "inspection_kind",
                "reinspection",
            ]
        ),
        pd.DataFrame(columns=["week", "establishment", "rank", "score", "model_version", "period"]),
    )
    result = prospective.evaluate(empty, listed=10)
    assert result["inspections"] == 0 and result["coverage"] is None and result["roc_auc"] is None
    assert prospective.table(empty).empty


def test_a_list_before_any_model_fails_naming_the_training_job(postgres, tmp_path):
    from dagster import materialize

    from chicago_food_assets.definitions import defs
    from chicago_food_assets.resources.socrata import SocrataResource
    from chicago_food_assets.resources.storage import LocalRawIOManager, ModelIOManager
    from chicago_food_assets.resources.tables import PostgresIOManager

    resources = {
        "postgres": postgres,
        "table_io_manager": PostgresIOManager(postgres=postgres),
        "model_io_manager": ModelIOManager(base_dir=str(tmp_path / "models")),
        "raw_io_manager": LocalRawIOManager(base_dir=str(tmp_path / "objects")),
        "socrata": SocrataResource(domain="127.0.0.1:9", scheme="http"),  # never called: no week is pulled
    }
    result = materialize(
        list(defs.assets),
        selection=["visit_list"],
        resources=resources,
        partition_key="2013-07-01",
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = str(failure.step_failure_data.error)
    assert "no selected_model is stored yet" in message and "`training` job" in message


def die_in_a_helper(taken, weeks, arguments) -> dict:
    """In a helper process: dies at once. Where the call started (made there again once the helper is dead): no
    list."""
    if multiprocessing.parent_process() is not None:
        os._exit(3)
    return {}


@pytest.fixture(scope="module")
def weeks_in_order(inspections, cleaned_sample, model) -> tuple[list, tuple, list[pd.DataFrame]]:
    """A range long enough for a helper, its lists' inputs, and its lists built here in order."""
    weeks = list(pd.date_range("2013-05-06", periods=batch.HELPER_WEEKS, freq="W-MON"))
    arguments = (inspections, cleaned_sample.visits, cleaned_sample.violations, model, visits.ListSettings())
    return weeks, arguments, batch.visit_lists(weeks, *arguments, helpers=0)


def test_a_range_built_with_a_helper_process_is_the_range_built_in_order(weeks_in_order, inspections):
    """Weeks built by a helper process (a fresh interpreter that reads the inputs from a pickle) are the same
    lists, in the order of the weeks; an error of the lists themselves is raised by the starting process."""
    weeks, arguments, alone = weeks_in_order
    helped = batch.visit_lists(weeks, *arguments, helpers=1)
    assert [table["week"].iloc[0] for table in alone] == weeks and all(len(table) > 100 for table in alone)
    for table, other in zip(alone, helped, strict=True):
        pd.testing.assert_frame_equal(table, other, check_exact=True)
    with pytest.raises(KeyError):
        batch.visit_lists(weeks, inspections.drop(columns=["risk"]), *arguments[1:], helpers=1)


def test_weeks_a_dead_helper_took_are_built_by_the_starting_process(weeks_in_order, monkeypatch):
    """Every week is taken and none returned (this process's own share is lost as a dead helper's would be, and
    the helper dies): each week is then built here, the same list."""
    weeks, arguments, alone = weeks_in_order

    def take_all_and_lose(taken, weeks, arguments) -> dict:
        while batch.take(taken, len(weeks)) is not None:
            pass
        return {}

    monkeypatch.setattr(batch, "build_taken", take_all_and_lose)  # this process's share only: the helper dies
    lost = batch.visit_lists(weeks, *arguments, helpers=1, helper=die_in_a_helper)
    for table, other in zip(alone, lost, strict=True):
        pd.testing.assert_frame_equal(table, other, check_exact=True)
