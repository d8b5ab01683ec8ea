"""The platform runs itself: the Socrata sensor against a replay server whose rows change, the runs it asks for,
backfills through a PostgreSQL-backed instance, schedules and the promotion rule."""

import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import requests
from dagster import AssetKey, AssetSelection, DagsterInstance, build_sensor_context, materialize

from chicago_food_assets.automation.jobs import LOOKUPS, WEEKLY
from chicago_food_assets.automation.sensors import RANGE_END, RANGE_START, runs_for, socrata_changes
from chicago_food_assets.definitions import defs, keys
from chicago_food_assets.local.replay import ReplayServer
from chicago_food_assets.resources.postgres import PostgresResource
from chicago_food_assets.resources.socrata import SocrataResource
from chicago_food_assets.resources.tables import read_table
from chicago_food_assets_tests.helpers import inject, new_database, project_instance, rows_between

PROJECT = Path(__file__).resolve().parent.parent


def tick(server: ReplayServer, cursor: str | None, postgres=None, instance=None):
    """One sensor evaluation, as the daemon runs it: run requests, skip message and the new cursor."""
    socrata = SocrataResource(domain=server.domain, scheme="http", max_attempts=2, backoff_seconds=0.01)
    resources = {"socrata": socrata, "postgres": postgres or PostgresResource(url=EMPTY["url"])}
    context = build_sensor_context(cursor=cursor, instance=instance or DagsterInstance.ephemeral(), resources=resources)
    return socrata_changes.evaluate_tick(context)


EMPTY: dict[str, str] = {}  # a database without tables: nothing is stored anywhere yet


@pytest.fixture(autouse=True)
def empty_database(server_url):
    with new_database(server_url) as url:
        EMPTY["url"] = url
        yield


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


@pytest.mark.faults
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
    assert materialize(assets, selection=keys(WEEKLY), resources=resources, tags=request.tags).success
    assert materialize(assets, selection=keys(LOOKUPS), resources=resources).success
    scores = read_table(pipeline["postgres"], "food", "inspection_scores").set_index("inspection_id")
    assert bool(scores.loc[int(target["inspection_id"]), "failed"]) == (corrected == "Fail")
    # the session's pipeline database goes back to the bundled rows for the other tests
    assert materialize(assets, selection=keys(WEEKLY), resources=pipeline["resources"], tags=request.tags).success
    assert materialize(assets, selection=keys(LOOKUPS), resources=pipeline["resources"]).success


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
                selection=keys(WEEKLY),
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
    assert {"socrata_changes", "follow_ups", "freshness", "alerts"} == {s.name for s in repository.sensor_defs}
    today = datetime.now(ZoneInfo("America/Chicago")).date()
    lists = defs.resolve_asset_graph().get(AssetKey("visit_list")).partitions_def
    assert lists.get_last_partition_key() >= str(today - timedelta(6))
    weekly_assets = {
        key.to_user_string() for key in repository.get_job("weekly").asset_layer.asset_graph.get_all_asset_keys()
    }
    assert {key.to_user_string() for key in keys(WEEKLY)} <= weekly_assets


def run_requested(request, resources: dict, portal: ReplayServer, instance=None):
    """What the daemon does with a run request: the weekly job over its weeks, tagged with its run key."""
    socrata = SocrataResource(domain=portal.domain, scheme="http", max_attempts=2, backoff_seconds=0.01)
    return materialize(
        list(defs.assets),
        selection=keys(WEEKLY),
        resources={**resources, "socrata": socrata},
        tags={**request.tags, "dagster/run_key": request.run_key},
        instance=instance,
        raise_on_error=False,
    )


@pytest.mark.faults
def test_an_inspection_moved_to_another_week_leaves_no_stale_copy(pipeline, sample_rows):
    rows = rows_between(sample_rows, "2013-01-07", "2013-06-24")
    target = rows_between(sample_rows, "2013-01-14", "2013-01-21")[5]
    moved = {**target, "inspection_date": "2013-03-05T00:00:00.000"}  # the portal edits its date
    with ReplayServer(rows) as portal:
        cursor = tick(portal, None, pipeline["postgres"]).cursor
        upsert(portal, [moved])
        result = tick(portal, cursor, pipeline["postgres"])
        ranges = [(r.tags[RANGE_START], r.tags[RANGE_END]) for r in result.run_requests]
        assert ranges == [("2013-01-14", "2013-01-14"), ("2013-03-04", "2013-03-04")]  # the old week first
        for request in result.run_requests:
            assert run_requested(request, pipeline["resources"], portal).success
        try:
            for name in ("clean_inspections", "inspection_features", "inspection_scores"):
                table = read_table(pipeline["postgres"], "food", name)
                copies = table[table["inspection_id"] == int(target["inspection_id"])]
                assert copies["week"].astype(str).tolist() == ["2013-03-04"], name
        finally:  # the session's pipeline goes back to the bundled rows
            upsert(portal, [target])
            for request in tick(portal, result.cursor, pipeline["postgres"]).run_requests:
                assert run_requested(request, pipeline["resources"], portal).success


@pytest.mark.faults
def test_a_stale_copy_in_another_week_fails_a_check_loudly(pipeline, sample_rows):
    rows = rows_between(sample_rows, "2013-01-07", "2013-06-24")
    target = rows_between(sample_rows, "2013-01-14", "2013-01-21")[5]
    with ReplayServer([*rows, {**target, "inspection_date": "2013-03-05T00:00:00.000"}]) as portal:
        socrata = SocrataResource(domain=portal.domain, scheme="http")
        result = materialize(
            list(defs.assets),
            selection=keys(AssetSelection.groups("ingestion", "cleaning")),
            resources={**pipeline["resources"], "socrata": socrata},
            partition_key="2013-03-04",  # only the new week: the old one still holds the id
            raise_on_error=False,
        )
        checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
        assert not checks["one_week_per_inspection"].passed
        assert checks["one_week_per_inspection"].metadata["ids_in_another_week"].value == 1
        restore = materialize(
            list(defs.assets),
            selection=keys(AssetSelection.groups("ingestion", "cleaning")),
            resources=pipeline["resources"],
            partition_key="2013-03-04",
        )
        assert restore.success


@pytest.mark.faults
def test_a_week_whose_run_failed_stays_owed_until_a_run_of_it_succeeds(pipeline, sample_rows):
    instance = DagsterInstance.ephemeral()
    week = rows_between(sample_rows, "2013-02-04", "2013-02-11")
    with ReplayServer(rows_between(sample_rows, "2013-01-07", "2013-06-24")) as portal:
        cursor = tick(portal, None, pipeline["postgres"], instance).cursor
        upsert(portal, [{**week[0], "results": "Fail" if week[0]["results"] != "Fail" else "Pass"}])
        first = tick(portal, cursor, pipeline["postgres"], instance)
        [request] = first.run_requests
        inject(portal, status=500, times=-1)  # the portal breaks while the run pulls
        assert not run_requested(request, pipeline["resources"], portal, instance).success
        requests.delete(f"http://{portal.domain}/__replay/faults", timeout=5)  # the fault clears

        second = tick(portal, first.cursor, pipeline["postgres"], instance)  # nothing new changed: still owed
        assert [(r.tags[RANGE_START], r.run_key.endswith(":1")) for r in second.run_requests] == [("2013-02-04", True)]
        assert json.loads(second.cursor)["owed"] == {"2013-02-04": 1}
        assert run_requested(second.run_requests[0], pipeline["resources"], portal, instance).success

        third = tick(portal, second.cursor, pipeline["postgres"], instance)
        assert not third.run_requests and json.loads(third.cursor)["owed"] == {}
        clean = read_table(pipeline["postgres"], "food", "clean_inspections")
        assert clean["inspection_id"].is_unique
        upsert(portal, [week[0]])  # back to the bundled row for the other tests
        for request in tick(portal, third.cursor, pipeline["postgres"], instance).run_requests:
            assert run_requested(request, pipeline["resources"], portal, instance).success


@pytest.mark.faults
def test_a_run_dagster_will_retry_is_not_counted_and_its_retry_settles_the_week(pipeline, sample_rows):
    """Run retries (dagster.yaml) launch a failed run again with its tags, the run key among them: the sensor waits
    for the retry instead of counting a failed attempt and requesting the week a second time."""
    instance = DagsterInstance.ephemeral()
    week = rows_between(sample_rows, "2013-03-04", "2013-03-11")
    with ReplayServer(rows_between(sample_rows, "2013-01-07", "2013-06-24")) as portal:
        cursor = tick(portal, None, pipeline["postgres"], instance).cursor
        upsert(portal, [{**week[0], "results": "Fail" if week[0]["results"] != "Fail" else "Pass"}])
        first = tick(portal, cursor, pipeline["postgres"], instance)
        [request] = first.run_requests
        inject(portal, status=500, times=-1)
        failed = run_requested(request, pipeline["resources"], portal, instance)
        assert not failed.success
        instance.add_run_tags(failed.run_id, {"dagster/will_retry": "true"})  # as the run-retry daemon marks it
        requests.delete(f"http://{portal.domain}/__replay/faults", timeout=5)

        waiting = tick(portal, first.cursor, pipeline["postgres"], instance)
        assert not waiting.run_requests  # the week is in flight: its retry is coming
        assert json.loads(waiting.cursor)["owed"] == {"2013-03-04": 0}
        assert run_requested(request, pipeline["resources"], portal, instance).success  # the retry: same run key
        settled = tick(portal, waiting.cursor, pipeline["postgres"], instance)
        assert not settled.run_requests and json.loads(settled.cursor)["owed"] == {}
        upsert(portal, [week[0]])  # back to the bundled row for the other tests
        for again in tick(portal, settled.cursor, pipeline["postgres"], instance).run_requests:
            assert run_requested(again, pipeline["resources"], portal, instance).success


@pytest.mark.faults
def test_the_sensor_gives_up_on_a_week_after_three_failed_runs_and_says_so(pipeline, sample_rows):
    instance = DagsterInstance.ephemeral()
    week = rows_between(sample_rows, "2013-02-11", "2013-02-18")
    with ReplayServer(rows_between(sample_rows, "2013-01-07", "2013-06-24")) as portal:
        cursor = tick(portal, None, pipeline["postgres"], instance).cursor
        upsert(portal, [{**week[0], "inspection_id": "990000010"}])
        inject(portal, status=500, times=-1)
        result = None
        for attempt in range(4):
            requests.delete(f"http://{portal.domain}/__replay/faults", timeout=5)
            result = tick(portal, cursor, pipeline["postgres"], instance)
            cursor = result.cursor
            if attempt == 3:
                break
            inject(portal, status=500, times=-1)
            [request] = result.run_requests
            assert not run_requested(request, pipeline["resources"], portal, instance).success
        assert not result.run_requests
        assert "given up after 3 failed runs" in result.skip_message and "2013-02-11" in result.skip_message
        assert list(json.loads(cursor)["given_up_at"]) == ["2013-02-11"]
        # the runbook's fix: the week run by hand, end to end; the sensor sees it and stops owing it
        requests.delete(f"http://{portal.domain}/__replay/faults", timeout=5)
        socrata = SocrataResource(domain=portal.domain, scheme="http", max_attempts=2, backoff_seconds=0.01)
        resources = {**pipeline["resources"], "socrata": socrata}
        by_hand = materialize(
            list(defs.assets),
            selection=keys(WEEKLY),
            resources=resources,
            partition_key="2013-02-11",
            instance=instance,
        )
        assert by_hand.success
        after = tick(portal, cursor, pipeline["postgres"], instance)
        state = json.loads(after.cursor)
        assert state["owed"] == {} and state["given_up_at"] == {} and "given up" not in (after.skip_message or "")


def test_what_follows_a_write_follows_it_once_whoever_wrote_it():
    """The follow-ups were run-status sensors keyed to job names: a backfill from the asset graph (the asset job, the
    UI, `dagster asset materialize`) rebuilt no lookups and no list. Now each follower says when
    (automation/conditions.py), evaluated here as the daemon's `follow_ups` sensor does, on writes reported with no
    job at all."""
    from dagster import AssetMaterialization, DagsterInstance, evaluate_automation_conditions

    from chicago_food_assets.assets.partitions import upcoming

    current = upcoming.get_last_partition_key()
    today = datetime.now(ZoneInfo("America/Chicago")).date()
    assert current == str(today - timedelta(days=today.weekday()))  # this week's Monday, in Chicago
    before = str(date.fromisoformat(current) - timedelta(days=7))

    def wrote(instance, asset: str, *weeks: str) -> None:
        for week in weeks or (None,):
            instance.report_runless_asset_event(AssetMaterialization(asset, partition=week))

    def requested(result) -> dict:
        found = {}
        for key in defs.resolve_asset_graph().get_all_asset_keys():
            weeks = result.get_requested_partitions(key) - {None}  # None: an unpartitioned asset, counted
            if result.get_num_requested(key):
                found[key.to_user_string()] = sorted(weeks) if weeks else result.get_num_requested(key)
        return found

    with DagsterInstance.ephemeral() as instance:
        first = evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0  # nothing is redone when the daemon starts
        # a backfill of two old weeks from the asset graph, raw to monitoring; one of them has a list
        old = ["2013-01-07", "2013-01-14"]
        for asset in ("clean_inspections", "visits_without_outcome", "inspection_violations", "inspection_scores"):
            wrote(instance, asset, *old)
        wrote(instance, "visit_list", "2013-01-14")
        after = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert requested(after) == {
            "establishment_risk": 1,  # the lookups
            "establishments": 1,  # the register
            "visit_list_outcomes": ["2013-01-14"],  # the week that has a list is judged again
        }
        assert evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor).total_requested == 0
        # the week before this one is stored (the Monday run) and a model is published: this week's list, once
        for asset in ("clean_inspections", "visits_without_outcome", "inspection_violations"):
            wrote(instance, asset, before)
        wrote(instance, "selected_model")
        monday = evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
        assert requested(monday)["visit_list"] == [current]
        assert "visit_list_outcomes" not in requested(monday)  # this week's inspections have not come yet
        wrote(instance, "visit_list_outcomes", "2013-01-14")
        judged = evaluate_automation_conditions(defs=defs, instance=instance, cursor=monday.cursor)
        assert requested(judged)["list_evaluation"] == 1


@pytest.mark.system  # a daemon
@pytest.mark.timeout(900)
def test_a_backfill_from_the_asset_graph_is_followed_by_the_daemon_once(server_url, tmp_path, sample_rows, monkeypatch):
    """Reproduced on main: weekly assets re-run by `asset materialize` (the asset job, as the UI's backfill runs)
    were followed by nothing: the lookups kept answering with what they had. With the daemon running, a backfill
    of a range from the asset graph is followed by the lookups and the register, each once."""
    import shutil
    import signal
    import subprocess
    import sys
    import time

    from dagster import AssetRecordsFilter

    from chicago_food_assets.automation.jobs import MODELS, WEEKLY, WEEKLY_FEATURES, WEEKLY_SCORES
    from chicago_food_assets.local.environment import PROJECT
    from chicago_food_assets_tests.helpers import daemon_settings, start_daemon, wait

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    config = tmp_path / "quick.yaml"
    config.write_text(
        "ops:\n  trained_models:\n    config: {holdout_weeks: 2, min_week_rows: 20, xgboost_trees: 30,"
        " knn_sample: 500, knn_neighbors: 25, backtest_cutoffs: 1}\n"
        "  selected_model:\n    config: {promotion_floor: 0}\n"
    )

    def materialize_cli(selection: AssetSelection, weeks: tuple[str, str] | None, *extra: str) -> None:
        command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "chicago_food_assets.definitions"]
        command += ["--select", ",".join(key.to_user_string() for key in keys(selection)), *extra]
        command += ["--partition-range", f"{weeks[0]}...{weeks[1]}"] if weeks else []
        done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]

    with (
        new_database(server_url) as dagster_url,
        new_database(server_url) as tables_url,
        ReplayServer(rows_between(sample_rows, "2013-01-07", "2013-03-11")) as replay,
    ):
        for name, value in daemon_settings(home, dagster_url, tables_url, replay, tmp_path).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("CHICAGO_FOOD_FOLLOW_UP_INTERVAL_SECONDS", "5")  # the sensor's ticks 5 s apart, not 30
        weeks = ("2013-01-07", "2013-03-04")
        materialize_cli(WEEKLY_FEATURES, weeks)
        materialize_cli(MODELS, None, "-c", str(config))
        materialize_cli(WEEKLY_SCORES, weeks)
        daemon = start_daemon(tmp_path / "daemon.log")
        instance = DagsterInstance.get()
        try:

            def ticks(since: float) -> int:
                states = [s for s in instance.all_instigator_state() if s.name == "follow_ups"]
                if not states:
                    return 0
                found = instance.get_ticks(states[0].instigator_origin_id, states[0].selector_id, limit=20)
                return sum(tick.timestamp > since for tick in found)

            started = time.time()
            wait(lambda: ticks(started) >= 1, 300, "the follow_ups sensor ticked", tmp_path / "daemon.log")
            # as the UI's asset backfill runs; what follows may start before the run ends (the register follows the
            # clean weeks, written before the scores), so it is counted from the backfill's start
            backfilled = time.time()
            materialize_cli(WEEKLY, ("2013-02-04", "2013-03-04"))

            def written(asset: str) -> int:
                filter = AssetRecordsFilter(asset_key=AssetKey(asset), after_timestamp=backfilled)
                return len(instance.fetch_materializations(filter, limit=10).records)

            wait(lambda: written("establishment_risk") >= 1, 300, "the lookups followed", tmp_path / "daemon.log")
            wait(lambda: written("establishments") >= 1, 300, "the register followed", tmp_path / "daemon.log")
            settled = time.time()
            wait(lambda: ticks(settled) >= 2, 300, "two more ticks", tmp_path / "daemon.log")
            assert written("establishment_risk") == 1 and written("establishments") == 1
            assert written("visit_list") == 0  # this week's list needs last week's data: 2013's feed has none
        finally:
            instance.dispose()
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(30)
