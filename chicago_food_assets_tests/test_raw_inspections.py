"""raw_inspections end to end: replay server over HTTP -> sodapy -> object storage (a folder, and S3 on moto)."""

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetExecutionContext, AssetKey, InMemoryIOManager, asset, materialize
from dagster_aws.s3 import S3Resource

from chicago_food_assets.assets.checks import QualityChecks, ShapeCheck
from chicago_food_assets.assets.raw import DEFAULT_CHECKS, build_raw_inspections, raw_inspections
from chicago_food_assets.core.ingestion.raw import NOT_RECORDED, UNKNOWN_WHEN_NULL
from chicago_food_assets.local.replay import ReplayServer
from chicago_food_assets.resources.s3 import S3RawIOManager
from chicago_food_assets.resources.socrata import SocrataResource
from chicago_food_assets.resources.storage import LocalRawIOManager, frame_from_bytes
from chicago_food_assets_tests.helpers import inject, rows_between

RANGE = {"dagster/asset_partition_range_start": "2013-01-07", "dagster/asset_partition_range_end": "2013-01-21"}
WEEKS = ["2013-01-07", "2013-01-14", "2013-01-21"]


def ingest(socrata, objects, assets=(raw_inspections,), **kwargs):
    return materialize(
        list(assets),
        resources={"socrata": socrata, "raw_io_manager": objects, **kwargs.pop("extra", {})},
        raise_on_error=False,
        **kwargs,
    )


def stored(objects: LocalRawIOManager, week: str) -> list[dict]:
    path = Path(objects.base_dir, "raw_inspections", f"{week}.jsonl.gz")
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    return [json.loads(line) for line in lines]


def as_received(row: dict) -> dict:
    """A stored row as the feed sent it: absent values left out, a nested object (location) kept as its JSON, an
    explicit null where it means "not recorded" kept as the text `NOT_RECORDED`."""
    sent = {k: json.loads(v) if k == "location" else v for k, v in row.items() if v is not None}
    return {k: None if k in UNKNOWN_WHEN_NULL and v == NOT_RECORDED else v for k, v in sent.items()}


@pytest.fixture
def objects(tmp_path) -> LocalRawIOManager:
    return LocalRawIOManager(base_dir=str(tmp_path / "objects"))


def test_several_weeks_in_one_run_store_each_weeks_real_rows_as_received(socrata, objects, sample_rows, replay):
    result = ingest(socrata, objects, tags=RANGE)
    assert result.success
    for week, end in zip(WEEKS, [*WEEKS[1:], "2013-01-28"], strict=True):
        expected = sorted(rows_between(sample_rows, week, end), key=lambda r: int(r["inspection_id"]))
        assert [as_received(r) for r in stored(objects, week)] == expected
    events = result.get_asset_materialization_events()
    assert sorted(e.partition for e in events) == WEEKS
    metadata = events[0].materialization.metadata
    total = len(rows_between(sample_rows, "2013-01-07", "2013-01-28"))
    assert metadata["range_rows"].value == total and metadata["weeks"].value == 3
    assert (
        metadata["min_inspection_date"].value == "2013-01-07" and metadata["max_inspection_date"].value <= "2013-01-27"
    )
    assert metadata["requests"].value == 1  # one query for the range, not one per week
    assert metadata["bytes"].value > 100_000 and metadata["distinct_licenses"].value > 100
    assert (
        "inspection_date >= '2013-01-07T00:00:00' AND inspection_date < '2013-01-28T00:00:00'"
        in metadata["query"].value
    )
    assert metadata["preview"].value.splitlines()[0].split("|")[1].strip() == "inspection_id"
    assert {c.check_name: c.passed for c in result.get_asset_check_evaluations()} == {
        "field_contract": True,
        "size": True,
        "no_infinity": True,
        "shape": True,
        "malformed_values": True,
    }


def test_rematerializing_a_week_stores_the_same_content_once(socrata, objects):
    assert ingest(socrata, objects, partition_key="2013-01-14").success
    first = stored(objects, "2013-01-14")
    assert ingest(socrata, objects, partition_key="2013-01-14").success
    again = stored(objects, "2013-01-14")
    assert again == first
    assert len({r["inspection_id"] for r in again}) == len(again)


def test_429_then_success_is_retried_inside_the_run(socrata, objects, replay):
    inject(replay, status=429, times=1)
    result = ingest(socrata, objects, partition_key="2013-01-14")
    assert result.success
    assert result.get_asset_materialization_events()[0].materialization.metadata["retries"].value == 1


def test_an_outage_longer_than_the_resources_retries_is_outlasted_by_the_steps_retry(socrata, objects, replay):
    """The resource retries each request 3 times; the step (deployment.socrata_retry_policy) tries again after it."""
    assert raw_inspections.op.retry_policy is not None and raw_inspections.op.retry_policy.max_retries >= 1
    inject(replay, status=503, times=3)  # every try of the first step attempt
    result = ingest(socrata, objects, partition_key="2013-01-14")
    assert result.success
    retried = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retried) == 1 and stored(objects, "2013-01-14")


def test_a_persistent_500_fails_the_run_clearly_and_keeps_the_stored_week(socrata, objects, replay):
    assert ingest(socrata, objects, partition_key="2013-01-14").success
    before = stored(objects, "2013-01-14")
    inject(replay, status=500, times=-1)
    result = ingest(socrata, objects, partition_key="2013-01-14")
    assert not result.success
    error = str(result.get_step_failure_events()[0].step_failure_data.error)
    assert "kept failing after 3 attempts" in error and "500" in error
    assert stored(objects, "2013-01-14") == before
    leftovers = [p.name for p in Path(objects.base_dir, "raw_inspections").iterdir()]
    assert leftovers == ["2013-01-14.jsonl.gz"]  # no temporary files left behind


def test_a_week_without_inspections_is_an_empty_partition(socrata, objects):
    result = ingest(socrata, objects, partition_key="2016-06-06")  # the sample has no 2015-2018 rows
    assert result.success
    assert stored(objects, "2016-06-06") == []
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["shape"].passed and checks["no_infinity"].passed
    assert not checks["size"].passed  # a warning: a week with nothing is unusual for Chicago
    assert result.get_asset_materialization_events()[0].materialization.metadata["dagster/row_count"].value == 0


def test_malformed_values_are_kept_raw_and_counted(sample_rows, objects):
    week = rows_between(sample_rows, "2013-01-07", "2013-01-14")[:20]
    bad = [
        {**week[0], "license_": "ABC-12", "latitude": "n/a"},
        {**week[1], "zip": "6061", "results": "Passed?"},
        {**week[2], "longitude": "Infinity"},
    ]
    with ReplayServer(bad + week[3:]) as server:
        result = ingest(SocrataResource(domain=server.domain, scheme="http"), objects, partition_key="2013-01-07")
    assert result.success
    kept = {r["inspection_id"]: r for r in stored(objects, "2013-01-07")}
    assert len(kept) == 20
    assert kept[week[0]["inspection_id"]]["license_"] == "ABC-12" and kept[week[1]["inspection_id"]]["zip"] == "6061"
    malformed = result.get_asset_materialization_events()[0].materialization.metadata["malformed_values"].value
    assert malformed == {
        "inspection_id": 0,
        "license_": 1,
        "zip": 1,
        "inspection_date": 0,
        "latitude": 1,
        "longitude": 1,
        "results": 1,
        "risk": 0,
    }
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["malformed_values"].passed and checks["malformed_values"].metadata["malformed"].value == 5
    assert not checks["no_infinity"].passed  # "Infinity" parses as a number and is infinite


def test_prod_storage_round_trips_a_range_through_s3_over_http(socrata, s3_endpoint, s3_bucket, sample_rows):
    objects = S3RawIOManager(
        s3=S3Resource(endpoint_url=s3_endpoint, region_name="us-east-1"), bucket=s3_bucket, prefix="raw"
    )

    @asset(deps=[], ins={}, partitions_def=raw_inspections.partitions_def, io_manager_key="memory")
    def week_sizes(context: AssetExecutionContext, raw_inspections: pd.DataFrame) -> int:
        return len(raw_inspections)

    result = ingest(
        socrata, objects, assets=[raw_inspections, week_sizes], tags=RANGE, extra={"memory": InMemoryIOManager()}
    )
    assert result.success
    assert result.output_for_node("week_sizes") == len(rows_between(sample_rows, "2013-01-07", "2013-01-28"))
    client = objects.s3.get_client()
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert keys == [f"raw/raw_inspections/{week}.jsonl.gz" for week in WEEKS]
    body = client.get_object(Bucket=s3_bucket, Key=keys[1])["Body"].read()
    assert len(frame_from_bytes(body)) == len(rows_between(sample_rows, "2013-01-14", "2013-01-21"))


def test_an_impossible_expectation_fails_visibly_while_the_run_reports_it(socrata, objects):
    impossible = QualityChecks(
        DEFAULT_CHECKS.asset, (ShapeCheck(columns=("inspection_id",), min_rows=10**9, severity="warn"),)
    )
    result = ingest(socrata, objects, assets=[build_raw_inspections(impossible)], partition_key="2013-01-14")
    assert result.success  # a warning does not fail the run
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "shape"]
    assert not check.passed and check.metadata["min_rows"].value == 10**9
    assert check.severity.value == "WARN"


def test_an_error_severity_check_blocks_what_is_downstream_in_the_run(socrata, objects):
    impossible = QualityChecks(DEFAULT_CHECKS.asset, (ShapeCheck(columns=("no_such_column",), severity="error"),))

    @asset(partitions_def=raw_inspections.partitions_def, ins={}, deps=[AssetKey("raw_inspections")])
    def downstream() -> None:
        raise AssertionError("must not run")

    result = ingest(
        socrata, objects, assets=[build_raw_inspections(impossible), downstream], partition_key="2013-01-14"
    )
    assert not result.success
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "shape"]
    assert not check.passed and check.metadata["missing_columns"].value == ["no_such_column"]
    assert [e.asset_key for e in result.get_asset_materialization_events()] == [AssetKey("raw_inspections")]
    assert "downstream" not in {e.step_key for e in result.get_step_success_events()}


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB filesystem (tmpfs, mounted as root); skipped where this process may not mount."""
    import subprocess

    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.faults
def test_a_full_disk_fails_the_range_with_nothing_replaced_and_no_temporary_file(socrata, small_disk):
    """The object store on a 1 MB disk: a range of weeks that does not fit fails with `No space left on device`;
    the weeks stored before are unchanged, none of the range's new weeks is half there, and Dagster's status says so
    (failed for the range, the earlier weeks still materialized). A temporary file a killed writer left is removed
    by the next write."""
    from dagster import DagsterInstance

    objects = LocalRawIOManager(base_dir=str(small_disk))
    instance = DagsterInstance.ephemeral()
    early = {"dagster/asset_partition_range_start": "2013-01-07", "dagster/asset_partition_range_end": "2013-02-25"}
    assert ingest(socrata, objects, instance=instance, tags=early).success
    folder = small_disk / "raw_inspections"
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert len(before) == 8
    left = folder / ".2013-01-07.jsonl.gz.999999.x1y2z3ab"  # a writer killed mid-write (pid 999999 is not alive)
    left.write_bytes(b"")
    whole = {"dagster/asset_partition_range_start": "2010-01-04", "dagster/asset_partition_range_end": "2013-02-25"}
    result = ingest(socrata, objects, instance=instance, tags=whole)
    assert not result.success
    error = str(result.get_step_failure_events()[0].step_failure_data.error)
    assert "No space left on device" in error and "nothing was replaced" in error
    after = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert after == before  # nothing rewritten, nothing new, no temporary file (the stale one swept too)
    assert instance.get_materialized_partitions(AssetKey("raw_inspections")) == set(before_weeks(before))
    assert ingest(socrata, objects, instance=instance, partition_key="2013-01-14").success  # room for one week
    assert not [path.name for path in folder.iterdir() if path.name.startswith(".")]


def before_weeks(files: dict[str, bytes]) -> list[str]:
    return [name.removesuffix(".jsonl.gz") for name in files]
