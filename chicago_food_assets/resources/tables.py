"""The table IO manager: DataFrames as PostgreSQL tables of their declared contract, partition-aware."""

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from dagster import ConfigurableIOManager, InputContext, OutputContext
from psycopg2 import sql
from pydantic import Field

from chicago_food_assets.assets.types import contract_of
from chicago_food_assets.core.declarations.contracts import CONTRACTS, SCHEMA
from chicago_food_assets.resources import codec, memory, migrations, publications
from chicago_food_assets.resources.postgres import PostgresResource, Table


class PostgresIOManager(ConfigurableIOManager):
    """Stores DataFrames as PostgreSQL tables of their declared contract, one table per asset, partition-aware.

    The table's columns and types come from the asset's `dagster/column_schema` (built from its contract in
    the contracts), never from the data. Writing a week or a range deletes that window and COPYs the new rows
    in one transaction: a re-run never duplicates rows and a failed write leaves the previous rows. Reading a week
    or a range is one query. The table is `<schema>.<asset name>`; the schema comes from the asset key prefix,
    else `schema`. The partition column is the asset's `partition_expr`; `indexes` lists columns to index.
    """

    postgres: PostgresResource
    schema_name: str = Field(default=SCHEMA, description="schema for assets without a key prefix")

    def _table(self, context: OutputContext | InputContext) -> Table:
        path = context.asset_key.path
        owner = context.upstream_output if isinstance(context, InputContext) else context
        metadata = (owner.definition_metadata if owner is not None else None) or {}
        if context.has_asset_partitions and "partition_expr" not in metadata:
            raise ValueError(f"partitioned asset {context.asset_key.to_user_string()} needs `partition_expr` metadata")
        return Table("_".join(path[:-1]) or self.schema_name, contract_of(path[-1], metadata))

    def handle_output(self, context: OutputContext, obj: pd.DataFrame) -> None:
        if obj is None:
            return
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"PostgresIOManager stores DataFrames, got {type(obj).__name__}")
        table = self._table(context)
        window = context.asset_partitions_time_window if table.partition_column else None
        written = write_table(self.postgres, table, obj, (window.start, window.end) if window is not None else None)
        if context.has_asset_partitions and len(context.asset_partition_keys) > 1:
            # Dagster gives every week of a range run the same output metadata: name the totals as the range's
            rows = written.pop("dagster/row_count")
            written = {"range_weeks": len(context.asset_partition_keys), "range_rows_written": rows, **written}
        context.add_output_metadata({"table": str(table), **written})

    def load_input(self, context: InputContext) -> pd.DataFrame:
        memory.release()  # what the steps before freed, before this one loads
        table = self._table(context)
        condition = None
        if table.partition_column and context.has_asset_partitions:
            window = context.asset_partitions_time_window
            condition = sql.SQL("{} >= {} AND {} < {}").format(
                sql.Identifier(table.partition_column),
                sql.Literal(window.start.date()),
                sql.Identifier(table.partition_column),
                sql.Literal(window.end.date()),
            )
        return read_rows(self.postgres, table, condition, hint=context.asset_key.to_user_string())


def write_table(
    postgres: PostgresResource, table: Table, frame: pd.DataFrame, window: tuple[datetime, datetime] | None
) -> dict[str, Any]:
    """Replace `window` of the table (or all of it) with `frame`: DELETE and COPY in one transaction."""
    frame = table.contract.conform(frame)
    if window is not None:
        _check_inside(frame, table.partition_column, *window)
    payload = codec.CsvStream(frame, table.contract)
    # before the write's transaction, which may create the schema
    publications.ensure_publications(postgres, table.schema)
    with postgres.connect() as connection, connection.cursor() as cursor:
        added = migrations.migrate(cursor, table)
        if window is not None:
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE {} >= %s AND {} < %s").format(
                    table.identifier, sql.Identifier(table.partition_column), sql.Identifier(table.partition_column)
                ),
                (window[0].date(), window[1].date()),
            )
        else:
            cursor.execute(sql.SQL("DELETE FROM {}").format(table.identifier))
        replaced = cursor.rowcount
        copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, NULL {})").format(
            table.identifier, sql.SQL(", ").join(map(sql.Identifier, table.contract.names)), sql.Literal(codec.NULL)
        )
        cursor.copy_expert(copy.as_string(cursor), payload, size=1 << 20)
        publications.publish(cursor, table)
    return {"dagster/row_count": len(frame), "rows_replaced": replaced, "columns_added": added}


def read_table(postgres: PostgresResource, schema: str, name: str) -> pd.DataFrame:
    """A whole table of a declared contract (core/declarations/contracts.py), typed."""
    return read_rows(postgres, Table(schema, CONTRACTS[name]))


def read_rows(
    postgres: PostgresResource, table: Table, condition: sql.Composable | None = None, hint: str | None = None
) -> pd.DataFrame:
    """The contract's columns of the rows matching `condition`, in one COPY, typed by the contract."""
    select = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(map(sql.Identifier, table.contract.names)), table.identifier
    )
    if condition is not None:
        select = sql.SQL("{} WHERE {}").format(select, condition)
    with postgres.connect() as connection, connection.cursor() as cursor:
        if not migrations.stored_columns(cursor, table):
            raise LookupError(f"table {table} does not exist: materialize {hint or table.name} first")
        return codec.read_query(cursor, select, table.contract)


def _check_inside(frame: pd.DataFrame, column: str | None, start: datetime, end: datetime) -> None:
    """Rows outside the window being written would survive the next re-run's DELETE: refuse them."""
    values = frame[column]
    if values.isna().any():
        raise ValueError(f"{int(values.isna().sum())} rows have no {column}")
    low, high = np.datetime64(start.replace(tzinfo=None)), np.datetime64(end.replace(tzinfo=None))
    outside = (values < low) | (values >= high)
    if outside.any():
        raise ValueError(f"{int(outside.sum())} rows have {column} outside [{start:%Y-%m-%d}, {end:%Y-%m-%d})")
