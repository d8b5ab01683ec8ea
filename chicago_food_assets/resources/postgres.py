"""PostgreSQL: the connection resource (configured server or embedded) and the pandas table IO manager."""

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
import psycopg2
import pyarrow as pa
import pyarrow.compute as pc
from dagster import (
    ConfigurableIOManager,
    ConfigurableResource,
    InputContext,
    OutputContext,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
)
from psycopg2 import sql
from pyarrow import csv as pa_csv
from pydantic import Field

from chicago_food_assets.core.arrow import TEXT
from chicago_food_assets.core.contracts import CONTRACTS, SCHEMA, Column, Contract

NULL = r"\N"
DEFAULT_SCHEMA = SCHEMA


class PostgresResource(ConfigurableResource):
    """A PostgreSQL database by URL. Servers are started by whoever runs Dagster (the launcher), never by a run."""

    url: str = Field(description="postgresql://user:password@host:port/database")

    def dsn(self) -> str:
        return self.url.replace("postgresql+psycopg2://", "postgresql://")

    def read_earlier(
        self,
        contract: Contract,
        columns: Sequence[str],
        before: date,
        matching: Mapping[str, Sequence[object]],
        since: date | None = None,
    ) -> pd.DataFrame:
        """Rows of a weekly table whose week is before `before` and either whose column is one of its `matching`
        values, or whose week is `since` or later: one query."""
        table = Table(DEFAULT_SCHEMA, contract.select(columns))
        wanted = [
            sql.SQL("{} = ANY({})").format(sql.Identifier(column), sql.Literal(list(values)))
            for column, values in matching.items()
        ]
        if since is not None:
            wanted.append(sql.SQL("{} >= {}").format(sql.Identifier(contract.partition), sql.Literal(since)))
        condition = sql.SQL("({}) AND {} < {}").format(
            sql.SQL(" OR ").join(wanted) if wanted else sql.SQL("false"),
            sql.Identifier(contract.partition),
            sql.Literal(before),
        )
        return read_rows(self, table, condition)

    def stored_weeks(self, contract: Contract, ids: Sequence[int]) -> list[tuple[int, date]]:
        """(inspection_id, week) of every stored copy of these ids in a weekly table (none when it is new)."""
        table = Table(DEFAULT_SCHEMA, contract.select(["inspection_id", contract.partition]))
        condition = sql.SQL("inspection_id = ANY({})").format(sql.Literal(list(ids)))
        try:
            rows = read_rows(self, table, condition)
        except LookupError:
            return []
        return list(zip(rows["inspection_id"].astype(int), rows[contract.partition].dt.date, strict=True))

    @contextmanager
    def connect(self) -> Iterator["psycopg2.extensions.connection"]:
        """A connection in UTC whose transaction commits on success and rolls back on any error."""
        connection = psycopg2.connect(self.dsn(), options="-c timezone=UTC")
        try:
            with connection:
                yield connection
        finally:
            connection.close()


class SchemaChangeError(RuntimeError):
    """The declared contract no longer matches the stored table; says which columns differ and how to proceed."""


def column_schema(contract: Contract) -> TableSchema:
    """The contract as Dagster's standard `dagster/column_schema` (column type = the contract's kind)."""
    return TableSchema(
        columns=[
            TableColumn(c.name, c.kind, c.description or None, TableColumnConstraints(nullable=c.nullable))
            for c in contract.columns
        ]
    )


def contract_of(name: str, metadata: dict) -> Contract:
    """The contract an asset declares in its definition metadata (`dagster/column_schema`, `partition_expr`,
    `indexes`, `renamed`)."""
    schema = metadata.get("dagster/column_schema")
    if schema is None:
        raise ValueError(f"table asset {name} declares no `dagster/column_schema`: tables are typed by declaration")
    schema = getattr(schema, "schema", schema)  # a TableSchemaMetadataValue or the TableSchema itself
    renamed = metadata.get("renamed", {})
    renamed = getattr(renamed, "data", renamed)
    return Contract(
        name,
        "",
        tuple(Column(c.name, c.type, c.constraints.nullable, formerly=renamed.get(c.name)) for c in schema.columns),
        metadata.get("partition_expr"),
        tuple(metadata.get("indexes", ())),
    )


@dataclass(frozen=True)
class Table:
    schema: str
    contract: Contract

    @property
    def name(self) -> str:
        return self.contract.name

    @property
    def partition_column(self) -> str | None:
        return self.contract.partition

    @property
    def identifier(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.name))

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


class PostgresIOManager(ConfigurableIOManager):
    """Stores DataFrames as PostgreSQL tables of their declared contract, one table per asset, partition-aware.

    The table's columns and types come from the asset's `dagster/column_schema` (built from its contract in
    core/contracts.py), never from the data. Writing a week or a range deletes that window and COPYs the new rows
    in one transaction: a re-run never duplicates rows and a failed write leaves the previous rows. Reading a week
    or a range is one query. The table is `<schema>.<asset name>`; the schema comes from the asset key prefix,
    else `schema`. The partition column is the asset's `partition_expr`; `indexes` lists columns to index.
    """

    postgres: PostgresResource
    schema_name: str = Field(default=DEFAULT_SCHEMA, description="schema for assets without a key prefix")

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
) -> dict[str, object]:
    """Replace `window` of the table (or all of it) with `frame`: DELETE and COPY in one transaction."""
    frame = table.contract.conform(frame)
    if window is not None:
        _check_inside(frame, table.partition_column, *window)
    payload = to_csv(frame, table.contract)
    _ensure_publications(postgres, table.schema)  # before the write's transaction, which may create the schema
    with postgres.connect() as connection, connection.cursor() as cursor:
        added = _ensure_table(cursor, table)
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
            table.identifier, sql.SQL(", ").join(map(sql.Identifier, table.contract.names)), sql.Literal(NULL)
        )
        cursor.copy_expert(copy.as_string(cursor), payload)
        _publish(cursor, table)
    return {"dagster/row_count": len(frame), "rows_replaced": replaced, "columns_added": added}


PUBLICATIONS = "publications"  # per schema: each table's write count, bumped in the write's own transaction


def _publish(cursor: "psycopg2.extensions.cursor", table: Table) -> None:
    """Counts the write in `<schema>.publications` within the write's own transaction: a reader that sees the new
    count sees the new rows. The score API derives its ETags from these counts (service/api.py)."""
    publications = sql.Identifier(table.schema, PUBLICATIONS)
    cursor.execute(
        sql.SQL(
            "INSERT INTO {} (table_name, version, written_at) VALUES (%s, 1, now()) "
            "ON CONFLICT (table_name) DO UPDATE SET version = {}.version + 1, written_at = now()"
        ).format(publications, publications),
        (table.name,),
    )


def _ensure_publications(postgres: PostgresResource, schema: str) -> None:
    """The publications table, created in a short transaction of its own under a lock of its own, so that writers
    of different tables never wait for each other's COPY."""
    with postgres.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{schema}.{PUBLICATIONS}",))
        cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cursor.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} "
                "(table_name text PRIMARY KEY, version bigint NOT NULL, written_at timestamptz NOT NULL)"
            ).format(sql.Identifier(schema, PUBLICATIONS))
        )


def read_table(postgres: PostgresResource, schema: str, name: str) -> pd.DataFrame:
    """A whole table of a declared contract (core/contracts.py), typed."""
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
        if not _columns(cursor, table):
            raise LookupError(f"table {table} does not exist: materialize {hint or table.name} first")
        return read_query(cursor, select, table.contract)


def read_query(cursor: "psycopg2.extensions.cursor", select: sql.Composable, contract: Contract) -> pd.DataFrame:
    """One COPY of a query into a frame of the contract's dtypes.

    Non-null values are quoted and NULL is the unquoted marker, so a text that reads `\\N` stays a text; Arrow's
    CSV reader keeps that distinction (pandas' does not) and parses the columns in C++.
    """
    buffer = io.BytesIO()
    copy = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true, NULL {}, FORCE_QUOTE *)").format(
        select, sql.Literal(NULL)
    )
    cursor.copy_expert(copy.as_string(cursor), buffer)
    buffer.seek(0)
    types = {c.name: pa.string() for c in contract.columns}
    table = pa_csv.read_csv(
        buffer,
        read_options=pa_csv.ReadOptions(use_threads=True),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=types, null_values=[NULL], strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )
    columns = {}
    for column in contract.columns:
        values = table.column(column.name)
        if column.kind in ("bigint", "integer", "smallint"):
            columns[column.name] = pd.Series(pc.cast(values, pa.int64()).to_pandas(types_mapper=_nullable.get))
        elif column.kind == "float":
            columns[column.name] = pd.Series(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False))
        elif column.kind == "boolean":
            flags = pc.equal(values, "t")
            columns[column.name] = pd.Series(flags.to_pandas(types_mapper=_nullable.get))
        elif column.kind == "date":
            columns[column.name] = pd.Series(pc.strptime(values, "%Y-%m-%d", "s").to_numpy(zero_copy_only=False))
        elif column.kind == "instant":
            columns[column.name] = pd.to_datetime(pd.Series(values.to_pandas()), format="ISO8601", utc=True)
        else:
            columns[column.name] = pd.Series(values.to_pandas(types_mapper={pa.string(): TEXT}.get))
    return contract.conform(pd.DataFrame(columns))


_nullable = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def _columns(cursor: "psycopg2.extensions.cursor", table: Table) -> dict[str, str]:
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (table.schema, table.name),
    )
    return {name: "timestamptz" if kind == "timestamp with time zone" else kind for name, kind in cursor.fetchall()}


def _lock(cursor: "psycopg2.extensions.cursor", table: Table) -> None:
    """Writers of one table take turns (a transaction-level advisory lock), so DDL never deadlocks a DELETE."""
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (str(table),))


def _ensure_table(cursor: "psycopg2.extensions.cursor", table: Table) -> list[str]:
    """Create the table of the contract on first write; add declared columns, rename renamed ones (`formerly`);
    refuse removed or retyped ones.

    A retyped column that holds no value yet (say `row` of a rejects table that has never had a reject) is
    migrated in place; an unpartitioned table is replaced whole on every write, so it is recreated.
    Returns the added columns.
    """
    _lock(cursor, table)
    declared = table.contract.postgres_types
    existing = _columns(cursor, table)
    if existing and table.partition_column is None and existing != declared:
        cursor.execute(sql.SQL("DROP TABLE {}").format(table.identifier))
        existing = {}
    if not existing:
        cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(table.schema)))
        cursor.execute(
            sql.SQL("CREATE TABLE {} ({})").format(
                table.identifier,
                sql.SQL(", ").join(
                    sql.SQL("{} {}{}").format(
                        sql.Identifier(c.name), sql.SQL(c.postgres), sql.SQL("" if c.nullable else " NOT NULL")
                    )
                    for c in table.contract.columns
                ),
            )
        )
        _ensure_indexes(cursor, table)
        return []
    for column in table.contract.columns:  # declared renames (`formerly`) keep the stored values
        if column.formerly in existing and column.name not in existing:
            cursor.execute(
                sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {}").format(
                    table.identifier, sql.Identifier(column.formerly), sql.Identifier(column.name)
                )
            )
            existing[column.name] = existing.pop(column.formerly)
    missing = [name for name in existing if name not in declared]
    retyped = {name: kind for name, kind in declared.items() if name in existing and existing[name] != kind}
    for name, kind in list(retyped.items()):
        cursor.execute(sql.SQL("SELECT count({}) FROM {}").format(sql.Identifier(name), table.identifier))
        if cursor.fetchone()[0] == 0:
            cursor.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING NULL").format(
                    table.identifier, sql.Identifier(name), sql.SQL(kind)
                )
            )
            del retyped[name]
    if missing or retyped:
        raise SchemaChangeError(
            f"the declared contract no longer matches table {table}: "
            + "; ".join(
                part
                for part in (
                    f"columns missing from the contract: {missing}" if missing else "",
                    "columns with a new type: " + str([f"{n}: {existing[n]} -> {k}" for n, k in retyped.items()])
                    if retyped
                    else "",
                )
                if part
            )
            + f". Migrate the table or drop it (DROP TABLE {table}) and re-materialize every partition."
        )
    added = [name for name in declared if name not in existing]
    for name in added:
        cursor.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                table.identifier, sql.Identifier(name), sql.SQL(declared[name])
            )
        )
    if added:
        _ensure_indexes(cursor, table)
    return added


def _ensure_indexes(cursor: "psycopg2.extensions.cursor", table: Table) -> None:
    columns = ((table.partition_column,) if table.partition_column else ()) + table.contract.indexes
    for column in dict.fromkeys(columns):
        cursor.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                sql.Identifier(f"{table.name}_{column}_idx"), table.identifier, sql.Identifier(column)
            )
        )


def _check_inside(frame: pd.DataFrame, column: str | None, start: datetime, end: datetime) -> None:
    """Rows outside the window being written would survive the next re-run's DELETE: refuse them."""
    values = frame[column]
    if values.isna().any():
        raise ValueError(f"{int(values.isna().sum())} rows have no {column}")
    low, high = np.datetime64(start.replace(tzinfo=None)), np.datetime64(end.replace(tzinfo=None))
    outside = (values < low) | (values >= high)
    if outside.any():
        raise ValueError(f"{int(outside.sum())} rows have {column} outside [{start:%Y-%m-%d}, {end:%Y-%m-%d})")


def to_csv(frame: pd.DataFrame, contract: Contract) -> io.BytesIO:
    """CSV for COPY, built by Arrow: every value quoted, NULL the unquoted marker (so the text `\\N` stays text).

    Dates are YYYY-MM-DD (times of day are refused, not truncated), instants ISO 8601 with offset, floats in their
    shortest round-trip form (`inf`, `-inf` and `nan` are PostgreSQL's spellings too).
    """
    fields = []
    for column in contract.columns:
        values = frame[column.name]
        if column.kind == "date":
            days = values.dropna()
            if (days != days.dt.normalize()).any():
                raise ValueError(
                    f"column {column.name!r} is stored as a date but has times of day; declare it an instant"
                )
            text = pa.array(values.dt.strftime("%Y-%m-%d"), type=pa.string(), from_pandas=True)
        elif column.kind == "instant":
            text = pa.array(values.dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z"), type=pa.string(), from_pandas=True)
        elif column.kind == "boolean":
            flags = pa.array(values.astype("boolean"), type=pa.bool_(), from_pandas=True)
            text = pc.if_else(flags, "t", "f")
        elif column.kind in ("text", "json"):
            text = pa.array(values.astype(TEXT), type=pa.string(), from_pandas=True)
        else:
            text = pc.cast(pa.array(values, from_pandas=True), pa.string())
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
        fields.append(pc.fill_null(quoted, NULL))
    if not len(frame):
        return io.BytesIO(b"")
    lines = pc.binary_join_element_wise(*fields, pa.scalar(""), ",")  # every field, then a trailing comma
    lines = pc.utf8_replace_slice(lines, -1, 2**31 - 1, "\n")  # ... replaced by the end of line
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return io.BytesIO(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]])
