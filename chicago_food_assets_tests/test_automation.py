"""The platform runs itself: the Socrata sensor against a replay server whose rows change, the runs it asks for,
backfills through a PostgreSQL-backed instance, schedules and the promotion rule."""

import json
from pathlib import Path

import pandas as pd
import pytest
import requests
from dagster import AssetKey, DagsterInstance, build_sensor_context, materialize

from chicago_food_assets.definitions import defs
from chicago_food_assets.replay import ReplayServer
from chicago_food_assets.resources.postgres import read_table
from chicago_food_assets.resources.socrata import SocrataResource
from chicago_food_assets.sensors import RANGE_END, RANGE_START, runs_for, socrata_changes
from chicago_food_assets_tests.helpers import inject, new_database, project_instance, rows_between

PROJECT = Path(__file__).resolve().parent.parent
WEEKLY = [
    "raw_inspections",
    "clean_inspections",
    "inspection_violations",
    "inspection_rejects",
    "inspection_features",
    "inspection_scores",
    "score_monitoring",
]


def keys(*names: str) -> list[AssetKey]:
    return [AssetKey(name) for name in names]


def tick(server: ReplayServer, cursor: str | None):
    """One sensor evaluation, as the daemon runs it: run requests, skip message and the new cursor."""
    socrata = SocrataResource(domain=server.domain, scheme="http", max_attempts=2, backoff_seconds=0.01)
    context = build_sensor_context(cursor=cursor, instance=DagsterInstance.ephemeral(), resources={"socrata": socrata})
    return socrata_changes.evaluate_tick(context)


def upsert(server: ReplayServer, rows: list[dict]) -> None:
    requests.post(f"http://{server.domain}/__replay/rows", json=rows, timeout=5).raise_for_status()


@pytest.fixture
def portal(sample_rows):
    """A replay server of our own: these tests append and edit rows."""
    with ReplayServer(rows_between(sample_rows, "2012-01-01", "2014-01-01")) as server:
        yield server


def test_contiguous_weeks_become_one_run_each():
    assert runs_for(["2013-01-21", "2013-01-07", "2013-01-14", "2013-03-04", "2013-01-14"]) == [
        ("2013-01-07", "2013-01-21"),
        ("2013-03-04", "2013-03-04"),
    ]


def test_the_sensor_asks_for_exactly_the_weeks_whose_rows_changed(portal, sample_rows):
    first = tick(portal, None)
    assert "cursor initialised" in first.skip_message and not first.run_requests
    cursor = first.cursor

    quiet = tick(portal, cursor)
    assert "no rows changed" in quiet.skip_message and quiet.cursor == cursor

    # a new inspection in one week, and a correction of an old row (a late portal edit) in another
    week = rows_between(sample_rows, "2013-01-14", "2013-01-21")
    old = rows_between(sample_rows, "2012-03-05", "2012-03-12")[0]
    upsert(
        portal,
        [{**week[0], "inspection_id": "990000001"}, {**old, "results": "Fail" if old["results"] != "Fail" else "Pass"}],
    )
    changed = tick(portal, cursor)
    assert [(r.tags[RANGE_START], r.tags[RANGE_END]) for r in changed.run_requests] == [
        ("2012-03-05", "2012-03-05"),
        ("2013-01-14", "2013-01-14"),
    ]
    assert json.loads(changed.cursor)["updated_at"] > json.loads(cursor)["updated_at"]

    again = tick(portal, changed.cursor)  # the same changes are not asked for twice
    assert "no rows changed" in again.skip_message and not again.run_requests


def test_a_socrata_outage_skips_and_keeps_the_cursor(portal):
    cursor = tick(portal, None).cursor
    inject(portal, status=500, times=-1)
    down = tick(portal, cursor)
    assert "Socrata unavailable, will retry" in down.skip_message and not down.run_requests
    assert down.cursor in (None, cursor)  # the cursor is kept
    requests.delete(f"http://{portal.domain}/__replay/faults", timeout=5)
    upsert(
        portal, [{**rows_between(portal.state.table.rows, "2013-05-06", "2013-05-13")[0], "inspection_id": "990000002"}]
    )
    back = tick(portal, cursor)
    assert [(r.tags[RANGE_START], r.tags[RANGE_END]) for r in back.run_requests] == [("2013-05-06", "2013-05-06")]


def test_a_week_that_is_not_complete_waits_in_the_cursor(portal, sample_rows):
    cursor = tick(portal, None).cursor
    today = pd.Timestamp.now().normalize()
    upsert(
        portal, [{**sample_rows[0], "inspection_id": "990000003", "inspection_date": f"{today:%Y-%m-%d}T00:00:00.000"}]
    )
    result = tick(portal, cursor)
    assert not result.run_requests and "not complete yet" in result.skip_message
    assert json.loads(result.cursor)["pending"] == [f"{today - pd.Timedelta(days=today.weekday()):%Y-%m-%d}"]


def test_a_requested_run_refreshes_the_week_end_to_end(pipeline, portal, sample_rows):
    """What the sensor asks for, run: the corrected row flows to clean, features, scores and the lookups."""
    cursor = tick(portal, None).cursor
    target = rows_between(sample_rows, "2013-01-14", "2013-01-21")[3]
    corrected = "Fail" if target["results"] != "Fail" else "Pass"
    upsert(portal, [{**target, "results": corrected}])
    [request] = tick(portal, cursor).run_requests
    resources = {**pipeline["resources"], "socrata": SocrataResource(domain=portal.domain, scheme="http")}
    assets = list(defs.assets)
    assert materialize(assets, selection=keys(*WEEKLY), resources=resources, tags=request.tags).success
    assert materialize(assets, selection=keys("establishment_risk"), resources=resources).success
    scores = read_table(pipeline["postgres"], "food", "inspection_scores").set_index("inspection_id")
    assert bool(scores.loc[int(target["inspection_id"]), "failed"]) == (corrected == "Fail")
    # the session's pipeline database goes back to the bundled rows for the other tests
    assert materialize(assets, selection=keys(*WEEKLY), resources=pipeline["resources"], tags=request.tags).success
    assert materialize(assets, selection=keys("establishment_risk"), resources=pipeline["resources"]).success


def test_a_backfill_through_a_postgres_instance_is_one_run_and_rerunning_changes_nothing(
    pipeline, monkeypatch, tmp_path, server_url
):
    with new_database(server_url) as dagster_url:
        instance = project_instance(monkeypatch, dagster_url, tmp_path)
        weeks = {RANGE_START: "2013-01-07", RANGE_END: "2013-02-04"}
        before = {
            name: read_table(pipeline["postgres"], "food", name) for name in ("clean_inspections", "inspection_scores")
        }
        runs = [
            materialize(
                list(defs.assets),
                selection=keys(*WEEKLY),
                resources=pipeline["resources"],
                instance=instance,
                tags=weeks,
            )
            for _ in range(2)
        ]
        assert all(run.success for run in runs) and len({run.run_id for run in runs}) == 2
        assert instance.get_materialized_partitions(AssetKey("inspection_scores")) == {
            "2013-01-07",
            "2013-01-14",
            "2013-01-21",
            "2013-01-28",
            "2013-02-04",
        }
        for name, frame in before.items():
            after = read_table(pipeline["postgres"], "food", name)
            key = ["inspection_id"]
            pd.testing.assert_frame_equal(
                after.sort_values(key).reset_index(drop=True), frame.sort_values(key).reset_index(drop=True)
            )
        instance.dispose()


def test_schedules_and_jobs_are_defined_for_every_stage():
    repository = defs.get_repository_def()
    weekly = repository.get_schedule_def("weekly_schedule")
    assert weekly.cron_schedule == "0 6 * * 1" and weekly.job_name == "weekly"
    assert repository.get_schedule_def("monthly_retraining").job_name == "training"
    assert {"socrata_changes", "lookups_follow_scores"} <= {s.name for s in repository.sensor_defs}
    weekly_assets = {
        key.to_user_string() for key in repository.get_job("weekly").asset_layer.asset_graph.get_all_asset_keys()
    }
    assert set(WEEKLY) <= weekly_assets
