"""The Postgres IO manager: typed round trips, per-week replace in one transaction, range reads, clear failures."""

import numpy as np
import pandas as pd
import pytest
from dagster import AssetExecutionContext, AssetIn, AssetKey, BackfillPolicy, asset, materialize

from chicago_food_assets.assets.partitions import weekly
from chicago_food_assets.assets.types import table_metadata
from chicago_food_assets.core.declarations.columns import Column, Contract
from chicago_food_assets.resources import codec
from chicago_food_assets.resources.migrations import SchemaChangeError
from chicago_food_assets.resources.postgres import Table
from chicago_food_assets.resources.tables import PostgresIOManager, read_rows

INSPECTIONS = Contract(
    "inspections",
    "a test table",
    (
        Column("inspection_id", "bigint", False),
        Column("license", "bigint"),
        Column("week", "date", False),
        Column("inspection_date", "date", False),
        Column("latitude", "float"),
        Column("failed", "boolean"),
        Column("dba_name", "text"),
        Column("loaded_at", "instant"),
    ),
)

RANGE = {"dagster/asset_partition_range_start": "2013-01-07", "dagster/asset_partition_range_end": "2013-01-14"}


def frame(week: str, ids: list[int], note: str = "ok") -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "inspection_id": pd.array(ids, dtype="Int64"),
            "license": pd.array([1992039 if i % 2 else None for i in ids], dtype="Int64"),
            "week": pd.to_datetime([week] * n),
            "inspection_date": pd.to_datetime([week] * n)
            + pd.to_timedelta(list(range(n)), unit="D") % pd.Timedelta(days=7),
            "latitude": [41.961605669949854 if i % 3 else float("nan") for i in ids],
            "failed": pd.array([bool(i % 2) if i % 5 else None for i in ids], dtype="boolean"),
            "dba_name": [f'{note}, "quoted"\nline ünï {i}' if i % 4 else np.nan for i in ids],
            "loaded_at": pd.to_datetime(["2026-11-26 04:52:10.123456"] * n, utc=True),
        }
    )


def table_assets(schema: str, frames: dict[str, pd.DataFrame], contract: Contract = INSPECTIONS):
    """A weekly table asset of `contract` writing `frames[week]` (concatenated over a range) and two readers of it."""

    @asset(
        key=AssetKey([schema, "inspections"]),
        partitions_def=weekly,
        io_manager_key="tables",
        metadata=table_metadata(contract),
        backfill_policy=BackfillPolicy.single_run(),
    )
    def inspections(context: AssetExecutionContext) -> pd.DataFrame:
        return pd.concat([frames[key] for key in context.partition_keys], ignore_index=True)

    @asset(partitions_def=weekly, ins={"rows": AssetIn(AssetKey([schema, "inspections"]))}, io_manager_key="memory")
    def weekly_reader(rows: pd.DataFrame) -> pd.DataFrame:
        return rows

    @asset(ins={"rows": AssetIn(AssetKey([schema, "inspections"]))}, io_manager_key="memory")
    def everything_reader(rows: pd.DataFrame) -> pd.DataFrame:
        return rows

    return inspections, weekly_reader, everything_reader


def run(postgres, assets, selection=None, **kwargs):
    from dagster import InMemoryIOManager

    result = materialize(
        assets,
        selection=selection,
        resources={"tables": PostgresIOManager(postgres=postgres), "memory": InMemoryIOManager()},
        raise_on_error=False,
        **kwargs,
    )
    return result


def read(postgres, schema: str, contract: Contract = INSPECTIONS) -> pd.DataFrame:
    return read_rows(postgres, Table(schema, contract)).sort_values("inspection_id", ignore_index=True)


def test_a_week_round_trips_with_its_types(postgres, schema):
    written = frame("2013-01-07", [1, 2, 3, 4, 5, 6])
    assets = table_assets(schema, {"2013-01-07": written})
    result = run(postgres, assets, selection=assets[:2], partition_key="2013-01-07")
    assert result.success
    back = result.output_for_node("weekly_reader")
    expected = INSPECTIONS.conform(written)  # the declared dtypes: Arrow strings, nullable integers and booleans
    pd.testing.assert_frame_equal(back.sort_values("inspection_id").reset_index(drop=True), expected, check_dtype=True)
    with postgres.connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = 'inspections'"
            " ORDER BY ordinal_position",
            (schema,),
        )
        assert dict(cursor.fetchall()) == {
            "inspection_id": "bigint",
            "license": "bigint",
            "week": "date",
            "inspection_date": "date",
            "latitude": "double precision",
            "failed": "boolean",
            "dba_name": "text",
            "loaded_at": "timestamp with time zone",
        }


def test_rewriting_a_week_replaces_it_and_leaves_other_weeks(postgres, schema):
    frames = {"2013-01-07": frame("2013-01-07", [1, 2, 3]), "2013-01-14": frame("2013-01-14", [10, 11])}
    assets = table_assets(schema, frames)
    for key in frames:
        assert run(postgres, assets[:1], partition_key=key).success
    frames["2013-01-07"] = frame("2013-01-07", [1, 2, 3, 5], note="again")
    for _ in range(2):  # a re-run of the same week never duplicates
        assert run(postgres, assets[:1], partition_key="2013-01-07").success
    table = read(postgres, schema)
    assert table["inspection_id"].tolist() == [1, 2, 3, 5, 10, 11]
    assert table.loc[table["inspection_id"] == 5, "dba_name"].item().startswith("again")


def test_a_range_is_written_in_one_run_and_read_back_in_one_frame(postgres, schema):
    frames = {"2013-01-07": frame("2013-01-07", [1, 2]), "2013-01-14": frame("2013-01-14", [3, 4, 5])}
    inspections, _, everything = table_assets(schema, frames)
    result = run(postgres, [inspections, everything], tags=RANGE)
    assert result.success
    assert len(result.get_asset_materialization_events()) == 3  # two weeks and the reader
    assert sorted(result.output_for_node("everything_reader")["inspection_id"]) == [1, 2, 3, 4, 5]


@pytest.mark.faults
def test_a_failure_mid_write_leaves_the_previous_rows(postgres, schema):
    frames = {"2013-01-07": frame("2013-01-07", [1, 2, 3])}
    assets = table_assets(schema, frames)
    assert run(postgres, assets[:1], partition_key="2013-01-07").success
    broken = frame("2013-01-07", [7, 8, 9])
    broken.loc[2, "dba_name"] = "NUL \x00 byte"  # PostgreSQL refuses it in the middle of the COPY
    frames["2013-01-07"] = broken
    result = run(postgres, assets[:1], partition_key="2013-01-07")
    assert not result.success
    assert read(postgres, schema)["inspection_id"].tolist() == [1, 2, 3]


def test_a_table_is_written_in_parts_and_a_later_part_that_fails_leaves_the_previous_rows(
    postgres, schema, monkeypatch
):
    """COPY reads the CSV a part at a time (300,000 rows' text at once was the full run's peak of memory): the parts
    make the same text as the whole, the rows arrive whole, and a part refused after others were sent undoes them."""
    monkeypatch.setattr(codec, "ROWS_PER_PART", 4)
    written = frame("2013-01-07", list(range(1, 24)))
    whole = codec.csv_text(written, INSPECTIONS).tobytes()
    assert codec.CsvStream(written, INSPECTIONS).read() == whole
    stream = codec.CsvStream(written, INSPECTIONS)
    assert b"".join(iter(lambda: stream.read(100), b"")) == whole  # COPY's reads cut across lines and parts
    frames = {"2013-01-07": written}
    assets = table_assets(schema, frames)
    result = run(postgres, assets[:2], partition_key="2013-01-07")
    assert result.success
    back = result.output_for_node("weekly_reader").sort_values("inspection_id", ignore_index=True)
    pd.testing.assert_frame_equal(back, INSPECTIONS.conform(written), check_dtype=True)
    broken = frame("2013-01-07", list(range(31, 54)))
    broken.loc[21, "dba_name"] = "NUL \x00 byte"  # in the sixth part, after five were sent
    frames["2013-01-07"] = broken
    assert not run(postgres, assets[:1], partition_key="2013-01-07").success
    assert read(postgres, schema)["inspection_id"].tolist() == list(range(1, 24))


def test_rows_outside_the_week_are_refused_before_anything_is_deleted(postgres, schema):
    frames = {"2013-01-07": frame("2013-01-07", [1, 2])}
    assets = table_assets(schema, frames)
    assert run(postgres, assets[:1], partition_key="2013-01-07").success
    frames["2013-01-07"] = frame("2013-01-14", [5])
    result = run(postgres, assets[:1], partition_key="2013-01-07")
    assert not result.success
    assert "outside [2013-01-07, 2013-01-14)" in str(result.get_step_failure_events()[0].step_failure_data.error)
    assert read(postgres, schema)["inspection_id"].tolist() == [1, 2]


def test_a_removed_or_retyped_column_is_reported_and_an_added_one_is_added(postgres, schema):
    frames = {"2013-01-07": frame("2013-01-07", [1, 2])}
    assert run(postgres, table_assets(schema, frames)[:1], partition_key="2013-01-07").success
    changed = Contract(
        "inspections",
        "",
        tuple(
            Column("latitude", "text") if c.name == "latitude" else c
            for c in INSPECTIONS.columns
            if c.name != "license"
        ),
    )
    frames["2013-01-07"] = frame("2013-01-07", [1, 2]).drop(columns=["license"])
    result = run(postgres, table_assets(schema, frames, changed)[:1], partition_key="2013-01-07")
    error = str(result.get_step_failure_events()[0].step_failure_data.error)
    assert SchemaChangeError.__name__ in error
    assert "columns missing from the contract: ['license']" in error and "latitude: double precision -> text" in error
    grown = Contract("inspections", "", (*INSPECTIONS.columns, Column("zip", "integer")))
    frames["2013-01-07"] = frame("2013-01-07", [1, 2]).assign(zip=pd.array([60613, None], dtype="Int32"))
    result = run(postgres, table_assets(schema, frames, grown)[:1], partition_key="2013-01-07")
    assert result.success
    assert result.get_asset_materialization_events()[0].materialization.metadata["columns_added"].value == ["zip"]
    assert read(postgres, schema, grown)["zip"].tolist()[0] == 60613


def test_a_declared_rename_keeps_the_stored_values_of_other_weeks(postgres, schema):
    frames = {"2013-01-07": frame("2013-01-07", [1, 2]), "2013-01-14": frame("2013-01-14", [3, 4])}
    assert run(postgres, table_assets(schema, frames)[:1], tags=RANGE).success
    renamed = Contract(
        "inspections",
        "",
        tuple(Column("name", "text", formerly="dba_name") if c.name == "dba_name" else c for c in INSPECTIONS.columns),
    )
    frames["2013-01-14"] = frame("2013-01-14", [3, 4], note="new").rename(columns={"dba_name": "name"})
    assert run(postgres, table_assets(schema, frames, renamed)[:1], partition_key="2013-01-14").success
    stored = read(postgres, schema, renamed).set_index("inspection_id")["name"]
    assert stored[1].startswith("ok,") and stored[3].startswith("new,")  # the untouched week kept its values


def test_the_declared_types_make_the_table_whatever_the_first_week_holds(postgres, schema):
    empty = frame("2013-01-07", [])
    all_null = frame("2013-01-14", [1, 2]).assign(dba_name=None, latitude=None, license=None, failed=None)
    assets = table_assets(schema, {"2013-01-07": empty, "2013-01-14": all_null})
    assert run(postgres, assets[:1], partition_key="2013-01-07").success  # the first write has no rows at all
    assert run(postgres, assets[:1], partition_key="2013-01-14").success
    with postgres.connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = 'inspections'",
            (schema,),
        )
        stored = {name: (kind, nullable) for name, kind, nullable in cursor.fetchall()}
    assert stored["dba_name"] == ("text", "YES") and stored["latitude"] == ("double precision", "YES")
    assert stored["inspection_id"] == ("bigint", "NO") and stored["loaded_at"][0] == "timestamp with time zone"
    assert read(postgres, schema)["dba_name"].isna().all()


def test_a_text_that_reads_like_the_null_marker_stays_text(postgres, schema):
    odd = frame("2013-01-07", [1, 2, 3]).assign(dba_name=["\\N", "", None])
    assets = table_assets(schema, {"2013-01-07": odd})
    assert run(postgres, assets[:1], partition_key="2013-01-07").success
    names = read(postgres, schema)["dba_name"]
    assert names.tolist()[:2] == ["\\N", ""] and names.isna().tolist() == [False, False, True]


def test_a_frame_that_breaks_its_contract_is_refused_before_anything_is_written(postgres, schema):
    frames = {"2013-01-07": frame("2013-01-07", [1, 2])}
    assets = table_assets(schema, frames)
    assert run(postgres, assets[:1], partition_key="2013-01-07").success
    frames["2013-01-07"] = frame("2013-01-07", [3]).assign(extra=1)
    result = run(postgres, assets[:1], partition_key="2013-01-07")
    assert "columns not in the contract: ['extra']" in str(result.get_step_failure_events()[0].step_failure_data.error)
    assert read(postgres, schema)["inspection_id"].tolist() == [1, 2]


def test_reading_a_table_never_written_says_what_to_do(postgres, schema):
    inspections, weekly_reader, _ = table_assets(schema, {})
    result = run(postgres, [inspections, weekly_reader], selection=[weekly_reader], partition_key="2013-01-07")
    assert "materialize" in str(result.get_step_failure_events()[0].step_failure_data.error)


def test_times_of_day_are_not_truncated_into_dates(postgres, schema):
    bad = frame("2013-01-07", [1]).assign(inspection_date=pd.Timestamp("2013-01-07 10:30"))
    result = run(postgres, table_assets(schema, {"2013-01-07": bad})[:1], partition_key="2013-01-07")
    assert "has times of day" in str(result.get_step_failure_events()[0].step_failure_data.error)


@pytest.mark.parametrize("value", [float("inf"), float("-inf")])
def test_infinities_survive_the_round_trip(postgres, schema, value):
    written = frame("2013-01-07", [1]).assign(latitude=value)
    assets = table_assets(schema, {"2013-01-07": written})
    result = run(postgres, assets[:2], partition_key="2013-01-07")
    assert result.output_for_node("weekly_reader")["latitude"].item() == value


@pytest.mark.faults
def test_two_writers_of_the_same_weeks_take_turns_without_deadlock(postgres, schema):
    """Two runs released together on the same week, 50 times: no deadlock, no duplicate, the last write wins whole."""
    import threading
    from datetime import datetime

    from chicago_food_assets.resources.tables import write_table

    table = Table(schema, INSPECTIONS)
    window = (datetime(2013, 1, 7), datetime(2013, 1, 14))
    errors: list[BaseException] = []
    for round_ in range(50):
        frames = [frame("2013-01-07", list(range(1, 41)), note=f"{round_}-{side}") for side in "ab"]
        barrier = threading.Barrier(2)

        def write(part: pd.DataFrame, barrier: threading.Barrier) -> None:
            try:
                barrier.wait()
                write_table(postgres, table, part, window)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=write, args=(part, barrier)) for part in frames]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        stored = read(postgres, schema)
        assert stored["inspection_id"].tolist() == list(range(1, 41))  # once each
        notes = {name.split(",")[0] for name in stored["dba_name"].dropna()}
        assert notes in ({f"{round_}-a"}, {f"{round_}-b"})  # one write whole, never a mix


def test_every_write_is_counted_in_the_same_transaction(postgres, schema):
    """The API's ETags come from these counts: a write that fails counts nothing, each one that lands counts one."""
    frames = {"2013-01-07": frame("2013-01-07", [1, 2])}

    def count() -> int:
        with postgres.connect() as connection, connection.cursor() as cursor:
            cursor.execute(f"SELECT version FROM {schema}.publications WHERE table_name = 'inspections'")
            return cursor.fetchone()[0]

    assert run(postgres, table_assets(schema, frames)[:1], partition_key="2013-01-07").success
    assert count() == 1
    frames["2013-01-07"] = frame("2013-01-07", [3], note="nul\x00byte")  # PostgreSQL refuses it mid-COPY
    assert not run(postgres, table_assets(schema, frames)[:1], partition_key="2013-01-07").success
    assert count() == 1
    frames["2013-01-07"] = frame("2013-01-07", [4])
    assert run(postgres, table_assets(schema, frames)[:1], partition_key="2013-01-07").success
    assert count() == 2
