"""The weekly flow on rows the bundled sample never had, through Dagster on the real PostgreSQL: one odd row is one
reject, a quiet week is an empty week, a first reject after weeks without any lands in the declared table."""

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2
import pytest
import requests
from dagster import materialize

from chicago_food_assets.automation.jobs import WEEKLY
from chicago_food_assets.definitions import defs, keys
from chicago_food_assets.local.replay import ReplayServer
from chicago_food_assets.resources.socrata import SocrataResource
from chicago_food_assets.resources.tables import read_table
from chicago_food_assets_tests.helpers import rows_between


def weekly_run(resources: dict, portal: ReplayServer, week: str):
    result = materialize(
        list(defs.assets),
        selection=keys(WEEKLY),
        resources={**resources, "socrata": SocrataResource(domain=portal.domain, scheme="http")},
        partition_key=week,
        raise_on_error=False,
    )
    failures = [str(e.event_specific_data.error)[:2000] for e in result.all_events if e.is_step_failure]
    assert result.success, failures
    return result


def column_types(url: str, table: str) -> dict[str, str]:
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'food' AND table_name = %s",
            (table,),
        )
        return dict(cursor.fetchall())


@pytest.mark.faults
def test_odd_rows_of_a_live_feed_become_rejects_and_the_rest_of_the_week_lands(pipeline, sample_rows):
    # the pipeline's 25 weeks had no reject: the table still has its declared types
    assert column_types(pipeline["url"], "inspection_rejects")["row"] == "jsonb"
    week = rows_between(sample_rows, "2013-01-14", "2013-01-21")
    base = week[0]
    odd = [
        {**base, "inspection_id": "91000001", "latitude": "Infinity"},
        {**base, "inspection_id": "91000002", "latitude": 41.9, "longitude": -87.65},  # JSON numbers
        {**base, "inspection_id": "91000003", "license_": "99999999999999999999"},  # beyond int64
        {**base, "inspection_id": "91000004", "latitude": "91.5"},
        {**base, "inspection_id": "91000005", "dba_name": "NUL\x00NAME"},
        {**base, "inspection_id": "91000006", "dba_name": "\\N"},
        {**base, "inspection_id": "9007199254740993"},  # above 2**53
        {**base, "inspection_id": "9007199254740992"},
    ]
    with ReplayServer(week) as portal:
        requests.post(f"http://{portal.domain}/__replay/rows", json=odd, timeout=5).raise_for_status()
        weekly_run(pipeline["resources"], portal, "2013-01-14")
    try:
        rejects = read_table(pipeline["postgres"], "food", "inspection_rejects")
        reasons = dict(zip(rejects["inspection_id"], rejects["reason"], strict=True))
        assert reasons == {
            "91000001": "unreadable_coordinates",
            "91000003": "unreadable_license",
            "91000004": "coordinates_out_of_range",
            "91000005": "nul_character",
        }
        clean = read_table(pipeline["postgres"], "food", "clean_inspections").set_index("inspection_id")
        assert clean.loc[91000002, "latitude"] == 41.9
        assert clean.loc[91000006, "dba_name"] == "\\N"  # a name, not a NULL
        assert {9007199254740993, 9007199254740992} <= set(clean.index)
        scores = read_table(pipeline["postgres"], "food", "inspection_scores")
        assert len(scores[scores["week"] == "2013-01-14"]) == len(clean[clean["week"] == "2013-01-14"])
    finally:  # the session's pipeline database goes back to the bundled rows for the other tests
        with ReplayServer(week) as portal:
            weekly_run(pipeline["resources"], portal, "2013-01-14")


@pytest.mark.faults
def test_a_quiet_week_and_a_week_of_newcomers_without_violations_text_materialize(pipeline, sample_rows):
    newcomers = [
        {
            **{k: v for k, v in row.items() if k != "violations"},
            "license_": str(8_800_000 + i),
            "inspection_id": str(92_000_000 + i),
            "inspection_date": "2016-06-14T00:00:00.000",
        }
        for i, row in enumerate(rows_between(sample_rows, "2013-01-07", "2013-01-14")[:12])
    ]
    with ReplayServer(newcomers) as portal:
        quiet = weekly_run(pipeline["resources"], portal, "2016-06-06")
        new = weekly_run(pipeline["resources"], portal, "2016-06-13")
    checks = {(c.asset_key.to_user_string(), c.check_name): c for c in quiet.get_asset_check_evaluations()}
    failing = sorted(key for key, check in checks.items() if not check.passed)
    assert failing == [("raw_inspections", "size")]  # a warning: Chicago never has a week without inspections
    assert all(c.passed for c in new.get_asset_check_evaluations() if c.asset_key.path != ["raw_inspections"])
    monitoring = read_table(pipeline["postgres"], "food", "score_monitoring")
    assert (monitoring["week"] == "2016-06-06").sum() == 0
    assert (monitoring["week"] == "2016-06-13").sum() >= 2  # All and each facility type
    features = read_table(pipeline["postgres"], "food", "inspection_features")
    newest = features[features["week"] == "2016-06-13"]
    assert len(newest) == 12 and (newest["prior_inspections"] == 0).all()
    clean = read_table(pipeline["postgres"], "food", "clean_inspections")
    newcomers_clean = clean[clean["week"] == "2016-06-13"]
    # the live feed's meaning: no `violations` key is an inspection where nothing was cited
    assert newcomers_clean["violations_recorded"].all() and (newcomers_clean["violation_count"] == 0).all()
    assert column_types(pipeline["url"], "score_monitoring")["histogram"] == "jsonb"


def test_the_weekly_schedule_fires_at_six_in_chicago():
    schedule = defs.get_repository_def().get_schedule_def("weekly_schedule")
    assert schedule.execution_timezone == "America/Chicago"
    from dagster._utils.schedules import cron_string_iterator

    start = datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")).timestamp()  # winter: Chicago is UTC-6
    winter = next(cron_string_iterator(start, schedule.cron_schedule, schedule.execution_timezone))
    assert (winter.astimezone(ZoneInfo("UTC")).hour, winter.weekday()) == (12, 0)
    start = datetime(2026, 7, 1, tzinfo=ZoneInfo("UTC")).timestamp()  # summer: UTC-5
    summer = next(cron_string_iterator(start, schedule.cron_schedule, schedule.execution_timezone))
    assert summer.astimezone(ZoneInfo("UTC")).hour == 11


@pytest.mark.faults
def test_a_feed_that_stops_sending_a_field_stops_the_week_before_anything_is_overwritten(pipeline, sample_rows):
    """The feed serves a stored week again with two unknown extra fields and no `violations` key at all: the raw
    field contract fails (a blocking check naming the field), the run fails, and nothing is overwritten: not the
    week's raw object, not its violations, not its clean rows."""
    from dagster import AssetKey

    def counts() -> tuple[int, int]:
        with psycopg2.connect(pipeline["url"]) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM food.inspection_violations WHERE week = %s", (week,))
            cited = cursor.fetchone()[0]
            cursor.execute(
                "SELECT count(*) FROM food.clean_inspections WHERE week = %s AND violations_recorded", (week,)
            )
            return cited, cursor.fetchone()[0]

    with psycopg2.connect(pipeline["url"]) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT week::text FROM food.clean_inspections GROUP BY week ORDER BY count(*) FILTER "
            "(WHERE violations_recorded) DESC LIMIT 1"
        )
        week = cursor.fetchone()[0]
    end = str((datetime.fromisoformat(week) + timedelta(days=7)).date())
    before = counts()
    assert before[0] > 100 and before[1] > 30  # a week with cited violations
    objects = pipeline["resources"]["raw_io_manager"]
    stored = Path(objects.base_dir, "raw_inspections", f"{week}.jsonl.gz").read_bytes()
    changed = [
        {**{k: v for k, v in row.items() if k != "violations"}, "inspector_team": "7", "source_batch": "b2"}
        for row in rows_between(sample_rows, week, end)
    ]
    with ReplayServer(changed) as portal:
        result = materialize(
            list(defs.assets),
            selection=keys(WEEKLY),
            resources={**pipeline["resources"], "socrata": SocrataResource(domain=portal.domain, scheme="http")},
            partition_key=week,
            raise_on_error=False,
        )
    assert not result.success
    [contract] = [c for c in result.get_asset_check_evaluations() if c.check_name == "field_contract"]
    assert not contract.passed and contract.metadata["missing_fields"].value == ["violations"]
    failure = str(result.get_step_failure_events()[0].step_failure_data.error)
    assert f"stopped sending violations: week {week}" in failure and "Nothing was stored" in failure
    assert result.get_asset_materialization_events() == []  # not even the raw week
    assert Path(objects.base_dir, "raw_inspections", f"{week}.jsonl.gz").read_bytes() == stored
    assert counts() == before
    assert AssetKey("raw_inspections") in {c.asset_key for c in result.get_asset_check_evaluations()}
