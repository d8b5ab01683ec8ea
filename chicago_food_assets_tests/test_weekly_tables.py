"""raw -> clean -> features through Dagster into a real PostgreSQL: ranges, re-runs, rejects, types."""

import pandas as pd
import pytest
from dagster import check_dagster_type, materialize

from chicago_food_assets.assets.clean import cleaning_assets
from chicago_food_assets.assets.features import inspection_features
from chicago_food_assets.assets.raw import raw_inspections
from chicago_food_assets.assets.types import TYPES
from chicago_food_assets.local.replay import ReplayServer
from chicago_food_assets.resources.socrata import SocrataResource
from chicago_food_assets.resources.storage import LocalRawIOManager
from chicago_food_assets.resources.tables import PostgresIOManager
from chicago_food_assets_tests.helpers import rows_between

CleanInspections = TYPES["clean_inspections"]

ASSETS = [raw_inspections, cleaning_assets, inspection_features]
RANGE = {"dagster/asset_partition_range_start": "2013-01-07", "dagster/asset_partition_range_end": "2013-02-04"}


@pytest.fixture
def resources(postgres, socrata, tmp_path):
    with postgres.connect() as connection, connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA IF EXISTS food CASCADE")
    return {
        "socrata": socrata,
        "raw_io_manager": LocalRawIOManager(base_dir=str(tmp_path / "objects")),
        "postgres": postgres,
        "table_io_manager": PostgresIOManager(postgres=postgres),
    }


def table(postgres, name: str) -> pd.DataFrame:
    with postgres.connect() as connection:
        return pd.read_sql(f"SELECT * FROM food.{name} ORDER BY 1, 2, 3", connection)


def run(resources, selection=None, **kwargs):
    result = materialize(ASSETS, selection=selection, resources=resources, raise_on_error=False, **kwargs)
    failures = [str(e.event_specific_data.error) for e in result.all_events if e.is_step_failure]
    assert result.success, failures
    return result


def metadata(result, asset: str) -> dict:
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key.path == [asset])
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_a_range_fills_the_tables_and_a_rerun_leaves_them_identical(resources, postgres, sample_rows):
    first = run(resources, tags=RANGE)
    expected = rows_between(sample_rows, "2013-01-07", "2013-02-11")
    clean_meta = metadata(first, "clean_inspections")  # a range run: totals named as the range's, weeks apart
    assert clean_meta["range_rows_in"] == len(expected) and "rows_in" not in clean_meta
    assert clean_meta["range_rows_out"] + clean_meta["range_rows_dropped"] + clean_meta["range_rows_rejected"] == len(
        expected
    )
    for week, end in (("2013-01-07", "2013-01-14"), ("2013-02-04", "2013-02-11")):
        line = next(line for line in clean_meta["by_week"].splitlines() if line.startswith(f"| {week} "))
        assert int(line.split("|")[2]) == len(rows_between(sample_rows, week, end))
    before = {
        name: table(postgres, name) for name in ("clean_inspections", "inspection_violations", "inspection_features")
    }
    assert len(before["inspection_features"]) == clean_meta["range_rows_out"] > 800
    assert before["clean_inspections"]["inspection_id"].is_unique
    assert set(before["inspection_violations"]["severity"]) <= {"critical", "serious", "minor"}  # 2013: old scheme

    again = run(resources, tags=RANGE)
    assert metadata(again, "inspection_features")["rows_replaced"] == len(before["inspection_features"])
    for name, frame in before.items():
        pd.testing.assert_frame_equal(table(postgres, name), frame)
    checks = {(c.asset_key.path[-1], c.check_name): c.passed for c in again.get_asset_check_evaluations()}
    assert (
        checks[("clean_inspections", "unique_inspection_id")]
        and checks[("inspection_features", "no_feature_from_the_future")]
    )


def test_one_week_rebuilt_alone_reads_its_history_and_matches_the_range_build(resources, postgres):
    # the sample's 2013 rows carry violations texts from 2013-02-11 on: the last week has cited history
    span = {"dagster/asset_partition_range_start": "2012-10-01", "dagster/asset_partition_range_end": "2013-03-11"}
    run(resources, tags=span)
    ranged = table(postgres, "inspection_features")
    result = run(resources, selection=ASSETS[1:], partition_key="2013-03-11")
    read = metadata(result, "inspection_features")
    assert read["history_rows_read"] > 0 and read["history_citations_read"] > 0
    alone = table(postgres, "inspection_features")
    week = alone[alone["week"] == pd.Timestamp("2013-03-11").date()]
    assert week["zip_fail_rate"].notna().all() and (week["repeats_last_2_years"] > 0).any()
    pd.testing.assert_frame_equal(alone, ranged)


def test_unparseable_rows_land_in_the_reject_table_and_are_counted(postgres, tmp_path, sample_rows):
    week = rows_between(sample_rows, "2013-01-07", "2013-01-14")[:30]
    bad = [{**week[0], "inspection_id": "X-1"}, {**week[1], "inspection_id": "900000301", "results": "Passed?"}]
    with ReplayServer(week[2:] + bad) as server:
        resources = {
            "socrata": SocrataResource(domain=server.domain, scheme="http"),
            "raw_io_manager": LocalRawIOManager(base_dir=str(tmp_path / "objects")),
            "postgres": postgres,
            "table_io_manager": PostgresIOManager(postgres=postgres),
        }
        with postgres.connect() as connection, connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA IF EXISTS food CASCADE")
        result = run(resources, partition_key="2013-01-07")
    rejects = table(postgres, "inspection_rejects")
    assert sorted(rejects["reason"]) == ["unknown_result", "unreadable_inspection_id"]
    assert rejects["week"].astype(str).unique().tolist() == ["2013-01-07"]
    assert metadata(result, "clean_inspections")["rejected_by_reason"] == {
        "unreadable_inspection_id": 1,
        "unknown_result": 1,
    }
    assert len(table(postgres, "clean_inspections")) == metadata(result, "clean_inspections")["rows_out"]


def test_an_empty_week_gives_empty_tables_not_errors(resources, postgres):
    result = run(resources, partition_key="2016-06-06")
    assert metadata(result, "clean_inspections")["rows_out"] == 0
    assert metadata(result, "inspection_features")["rows_out"] == 0
    assert len(table(postgres, "inspection_features")) == 0


def test_a_schema_break_is_a_type_failure_that_names_the_column(sample_rows):
    from chicago_food_assets.core.ingestion.cleaning import clean
    from chicago_food_assets.core.ingestion.raw import frame_of_rows

    good = clean(frame_of_rows(rows_between(sample_rows, "2013-01-07", "2013-01-08"))).inspections
    assert check_dagster_type(CleanInspections, good).success
    broken = check_dagster_type(CleanInspections, good.assign(risk=good["risk"].astype(float) + 5))
    assert not broken.success and '"risk"' in broken.description
    missing = check_dagster_type(CleanInspections, good.drop(columns=["establishment"]))
    assert not missing.success and "establishment" in missing.description
