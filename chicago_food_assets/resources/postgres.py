"""PostgreSQL: the connection resource (configured server or embedded) and the pandas table IO manager."""

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
import psycopg2
from dagster import ConfigurableIOManager, ConfigurableResource, InputContext, OutputContext
from psycopg2 import sql
from pydantic import Field, PrivateAttr

from chicago_food_assets.embedded import start_embedded_postgres, with_database

NULL = r"\N"
DEFAULT_SCHEMA = "food"


class PostgresResource(ConfigurableResource):
    """A PostgreSQL database: `url` when given (production), else the embedded server in `embedded_dir`."""

    url: str | None = Field(default=None, description="postgresql://user:password@host:port/database")
    embedded_dir: str | None = Field(default=None, description="data folder of the embedded server")
    database: str = Field(default="chicago_food", description="database on the embedded server")

    _resolved: str | None = PrivateAttr(default=None)

    def dsn(self) -> str:
        if self._resolved is None:
            if self.url:
                self._resolved = self.url
            elif self.embedded_dir:
                from pathlib import Path

                self._resolved = with_database(start_embedded_postgres(Path(self.embedded_dir)), self.database)
            else:
                raise ValueError("PostgresResource needs either `url` or `embedded_dir`")
        return self._resolved.replace("postgresql+psycopg2://", "postgresql://")

    def read_earlier(
        self, table: str, columns: Sequence[str], key: str, values: Sequence[object], column: str, before: date
    ) -> pd.DataFrame:
        """Rows of `table` whose `key` is one of `values` and whose `column` is before `before`: one query."""
        schema, name = table.split(".") if "." in table else (DEFAULT_SCHEMA, table)
        with self.connect() as connection, connection.cursor() as cursor:
            types = _columns(cursor, Table(schema, name, None))
            if not types:
                raise LookupError(f"table {schema}.{name} does not exist: materialize it first")
            select = sql.SQL("SELECT {} FROM {}.{} WHERE {} = ANY({}) AND {} < {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.Identifier(schema),
                sql.Identifier(name),
                sql.Identifier(key),
                sql.Literal(list(values)),
                sql.Identifier(column),
                sql.Literal(before),
            )
            return read_query(cursor, select, {c: types[c] for c in columns})

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
    """The output's columns no longer match the table; says which columns differ and how to proceed."""


# pandas dtype kind -> PostgreSQL type; explicit so dates stay dates and integers stay integers.
def postgres_type(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "timestamptz"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "date"  # naive datetimes are calendar dates (the data has day resolution); checked on write
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return {1: "smallint", 2: "smallint", 4: "integer"}.get(dtype.itemsize, "bigint")
    if pd.api.types.is_float_dtype(dtype):
        return "real" if dtype.itemsize == 4 else "double precision"
    if (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
    ):
        return "text"
    raise TypeError(f"column {series.name!r} has dtype {dtype}, which has no PostgreSQL mapping")


_PANDAS_TYPES = {
    "boolean": "boolean",
    "smallint": "Int16",
    "integer": "Int32",
    "bigint": "Int64",
    "real": "float32",
    "double precision": "float64",
    "text": "object",
}


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    partition_column: str | None
    indexes: tuple[str, ...] = ()

    @property
    def identifier(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.name))

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


class PostgresIOManager(ConfigurableIOManager):
    """Stores DataFrames as PostgreSQL tables, one table per asset, partition-aware.

    Writing a week or a range of weeks deletes that window and COPYs the new rows in one transaction: a re-run never
    duplicates rows and a failed write leaves the previous rows. Reading a week or a range is one query. The table is
    `<schema>.<asset name>`; the schema comes from the asset key prefix, else `schema`. The partition column is the
    asset's `partition_expr` metadata (a date column); `indexes` metadata lists columns to index for lookups.
    """

    postgres: PostgresResource
    schema_name: str = Field(default=DEFAULT_SCHEMA, description="schema for assets without a key prefix")

    def _table(self, context: OutputContext | InputContext) -> Table:
        path = context.asset_key.path
        owner = context.upstream_output if isinstance(context, InputContext) else context
        metadata = (owner.definition_metadata if owner is not None else None) or {}
        if context.has_asset_partitions and "partition_expr" not in metadata:
            raise ValueError(f"partitioned asset {context.asset_key.to_user_string()} needs `partition_expr` metadata")
        return Table(
            schema="_".join(path[:-1]) or self.schema_name,
            name=path[-1],
            partition_column=metadata.get("partition_expr") if context.has_asset_partitions else None,
            indexes=tuple(metadata.get("indexes", ())),
        )

    # -- writing -----------------------------------------------------------------------------------------
    def handle_output(self, context: OutputContext, obj: pd.DataFrame) -> None:
        if obj is None:
            return
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"PostgresIOManager stores DataFrames, got {type(obj).__name__}")
        table = self._table(context)
        window = context.asset_partitions_time_window if table.partition_column else None
        written = write_table(self.postgres, table, obj, (window.start, window.end) if window is not None else None)
        context.add_output_metadata({"table": str(table), **written})

    # -- reading -----------------------------------------------------------------------------------------
    def load_input(self, context: InputContext) -> pd.DataFrame:
        table = self._table(context)
        with self.postgres.connect() as connection, connection.cursor() as cursor:
            types = _columns(cursor, table)
            if not types:
                raise LookupError(
                    f"table {table} does not exist: materialize {context.asset_key.to_user_string()} first"
                )
            select = sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, types)), table.identifier
            )
            if table.partition_column:
                window = context.asset_partitions_time_window
                select = sql.SQL("{} WHERE {} >= {} AND {} < {}").format(
                    select,
                    sql.Identifier(table.partition_column),
                    sql.Literal(window.start.date()),
                    sql.Identifier(table.partition_column),
                    sql.Literal(window.end.date()),
                )
            return read_query(cursor, select, types)


def write_table(
    postgres: PostgresResource, table: Table, frame: pd.DataFrame, window: tuple[datetime, datetime] | None
) -> dict[str, object]:
    """Replace `window` of the table (or all of it) with `frame`: DELETE and COPY in one transaction."""
    if window is not None:
        _check_inside(frame, table.partition_column, *window)
    columns = {str(name): postgres_type(frame[name]) for name in frame.columns}
    payload = _to_csv(frame)
    with postgres.connect() as connection, connection.cursor() as cursor:
        added = _ensure_table(cursor, table, columns)
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
            table.identifier, sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Literal(NULL)
        )
        cursor.copy_expert(copy.as_string(cursor), payload)
    return {"rows_written": len(frame), "rows_replaced": replaced, "columns_added": added}


def read_table(postgres: PostgresResource, schema: str, name: str) -> pd.DataFrame:
    """A whole table, typed (see read_query)."""
    with postgres.connect() as connection, connection.cursor() as cursor:
        types = _columns(cursor, Table(schema, name, None))
        if not types:
            raise LookupError(f"table {schema}.{name} does not exist")
        select = sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
        return read_query(cursor, select, types)


def read_query(cursor: "psycopg2.extensions.cursor", select: sql.Composable, types: dict[str, str]) -> pd.DataFrame:
    """One COPY of a query into a typed DataFrame (`types`: column -> PostgreSQL type)."""
    buffer = io.StringIO()
    copy = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true, NULL {})").format(select, sql.Literal(NULL))
    cursor.copy_expert(copy.as_string(cursor), buffer)
    buffer.seek(0)
    frame = pd.read_csv(
        buffer,
        dtype={
            name: "object" if kind in ("date", "timestamptz", "boolean") else _PANDAS_TYPES.get(kind, "object")
            for name, kind in types.items()
        },
        keep_default_na=False,
        na_values=[NULL],
    )
    for name, kind in types.items():
        if kind == "date":
            frame[name] = pd.to_datetime(frame[name], format="%Y-%m-%d").astype("datetime64[ns]")
        elif kind == "timestamptz":
            frame[name] = pd.to_datetime(frame[name], format="ISO8601", utc=True).astype("datetime64[ns, UTC]")
        elif kind == "boolean":
            frame[name] = frame[name].map({"t": True, "f": False}).astype("boolean")
    return frame


def _columns(cursor: "psycopg2.extensions.cursor", table: Table) -> dict[str, str]:
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (table.schema, table.name),
    )
    return {name: "timestamptz" if kind == "timestamp with time zone" else kind for name, kind in cursor.fetchall()}


def _ensure_table(cursor: "psycopg2.extensions.cursor", table: Table, columns: dict[str, str]) -> list[str]:
    """Create the table on first write; add new columns; refuse removed or retyped ones. Returns added columns."""
    existing = _columns(cursor, table)
    if not existing:
        cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(table.schema)))
        cursor.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                table.identifier,
                sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns.items()),
            )
        )
        _ensure_indexes(cursor, table)
        return []
    missing = [name for name in existing if name not in columns]
    retyped = [
        f"{name}: {existing[name]} -> {kind}"
        for name, kind in columns.items()
        if name in existing and existing[name] != kind
    ]
    if missing or retyped:
        raise SchemaChangeError(
            f"the output no longer matches table {table}: "
            + "; ".join(
                part
                for part in (
                    f"columns missing from the output: {missing}" if missing else "",
                    f"columns with a new type: {retyped}" if retyped else "",
                )
                if part
            )
            + f". Migrate the table or drop it (DROP TABLE {table}) and re-materialize every partition."
        )
    _ensure_indexes(cursor, table)  # an index added to the asset's metadata later is created too
    added = [name for name in columns if name not in existing]
    for name in added:
        cursor.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                table.identifier, sql.Identifier(name), sql.SQL(columns[name])
            )
        )
    return added


def _ensure_indexes(cursor: "psycopg2.extensions.cursor", table: Table) -> None:
    for column in ((table.partition_column,) if table.partition_column else ()) + table.indexes:
        cursor.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                sql.Identifier(f"{table.name}_{column}_idx"), table.identifier, sql.Identifier(column)
            )
        )


def _check_inside(frame: pd.DataFrame, column: str | None, start: datetime, end: datetime) -> None:
    """Rows outside the window being written would survive the next re-run's DELETE: refuse them."""
    if column not in frame.columns:
        raise KeyError(f"partition column {column!r} is missing from the output")
    values = frame[column]
    if values.isna().any():
        raise ValueError(f"{int(values.isna().sum())} rows have no {column}")
    low, high = np.datetime64(start.replace(tzinfo=None)), np.datetime64(end.replace(tzinfo=None))
    outside = (values < low) | (values >= high)
    if outside.any():
        raise ValueError(f"{int(outside.sum())} rows have {column} outside [{start:%Y-%m-%d}, {end:%Y-%m-%d})")


def _to_csv(frame: pd.DataFrame) -> io.StringIO:
    """CSV for COPY: NULL as \\N, dates as YYYY-MM-DD (refusing times), instants in ISO 8601 with offset."""
    out = frame.copy(deep=False)
    for name in out.columns:
        column = out[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            out[name] = column.dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z")
        elif pd.api.types.is_datetime64_dtype(column.dtype):
            if (column.dropna() != column.dropna().dt.normalize()).any():
                raise ValueError(
                    f"column {name!r} is stored as a date but has times of day; make it tz-aware to keep them"
                )
            out[name] = column.dt.strftime("%Y-%m-%d")
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, header=False, na_rep=NULL)
    buffer.seek(0)
    return buffer
