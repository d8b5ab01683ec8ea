"""A whole week of a served table as a file (CSV written by PostgreSQL's COPY, or typed Parquet), streamed from one
snapshot under that snapshot's ETag: a week's scores, a week's visit list (the route sheet).

A CSV is opened in spreadsheets, which run a cell that starts with `=`, `+`, `-` or `@` as a formula: such a text
cell gets a leading `'` (OWASP's advice), and control characters (ESC, BEL, CR, LF, tab, DEL) and the marks that
reorder text (the right-to-left override) become spaces, in every export. Reasons are written as words ("; "
between them), booleans as true/false. The dashboard's download is this same CSV (`Export.csv_query`)."""

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq
from litestar import Request
from litestar.exceptions import NotFoundException, ServiceUnavailableException
from litestar.response import Stream

from chicago_food_assets.core.declarations.columns import Contract
from chicago_food_assets.core.declarations.contracts import INSPECTION_SCORES, SCHEMA, VISIT_LIST
from service import db
from service.api.reads import read
from service.api.schemas import SCORED, Score, Visit, placed
from service.api.versions import VERSION, versioned
from service.db import Database

PARQUET = "application/vnd.apache.parquet"
# control characters, DEL, and the bidirectional marks that can make a cell read as something else
UNSAFE = r"[\x01-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
FORMULA = r"^[=+@-]"


def plain(expression: str) -> str:
    """SQL: a text value without control characters or reordering marks (each becomes a space)."""
    return f"regexp_replace({expression}, '{UNSAFE}', ' ', 'g')"


def inert(expression: str) -> str:
    """SQL: a text value a spreadsheet shows as text: plain, and a leading `'` before what would start a formula."""
    value = plain(expression)
    return f"CASE WHEN {value} ~ '{FORMULA}' THEN '''' || {value} ELSE {value} END"


def words(expression: str) -> str:
    """SQL: stored reasons (JSON) as their words, joined by "; " (what a supervisor reads)."""
    return f"(SELECT string_agg(r->>'reason', '; ') FROM jsonb_array_elements({expression}) r)"


EXPORT_CHUNK = 64 * 1024
EXPORT_BATCH = 5_000  # rows per Parquet row group


class PublicationChangedError(RuntimeError):
    """A publication landed between an export's headers and its rows: the download is cut, the client retries."""


@dataclass(frozen=True)
class Export:
    """One weekly table's export: its columns (a response struct's), in rank order."""

    contract: Contract
    fields: tuple[str, ...]
    what: str  # "scores", "visit list": for messages and file names
    source: str = ""  # the FROM item, when not the contract's table itself
    key: str = "rank"  # the rows' order within a week (1..n)
    scope: str = "week = $1"  # the rows of one export: a week's, or part of it ($2...: `stream`'s `more`)

    @property
    def table(self) -> str:
        return self.source or f"{SCHEMA}.{self.contract.name}"

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(
            [
                pa.field(n, self.contract.column(n).type.arrow, nullable=self.contract.column(n).nullable)
                for n in self.fields
            ]
        )

    def csv_column(self, name: str) -> str:
        kind = self.contract.column(name).type.postgres
        if kind == "jsonb":
            return f"{inert(words(name))} AS {name}"
        if kind == "text":
            return f"{inert(name)} AS {name}"
        if kind == "boolean":  # COPY writes t/f
            return f"CASE WHEN {name} THEN 'true' WHEN NOT {name} THEN 'false' END AS {name}"
        return name

    def csv_query(self, where: str | None = None) -> str:
        """The CSV's SELECT, in the week's order; the dashboard gives its own filter (psycopg's parameters)."""
        columns = ", ".join(self.csv_column(name) for name in self.fields)
        return f"SELECT {columns} FROM {self.table} WHERE {where or self.scope} ORDER BY {self.key}"

    def parquet_column(self, name: str) -> str:
        return plain(name) if self.contract.column(name).type.postgres == "text" else name

    @property
    def groups(self) -> str:
        """One row per row group, each column an array (ranks 1..n within a week): Arrow takes the columns whole, no
        row-by-row transposition in Python."""
        group = f"({self.key} - 1) / {EXPORT_BATCH}"
        columns = ", ".join(
            f"array_agg({self.parquet_column(name)} ORDER BY {self.key}) AS {name}" for name in self.fields
        )
        return f"SELECT {columns} FROM {self.table} WHERE {self.scope} GROUP BY {group} ORDER BY {group}"

    def csv_rows(self, connection: asyncpg.Connection, *args: object) -> AsyncIterator[bytes]:
        return db.csv(connection, self.csv_query(), *args, chunk=EXPORT_CHUNK)

    async def parquet_rows(self, connection: asyncpg.Connection, *args: object) -> AsyncIterator[bytes]:
        """Row groups of EXPORT_BATCH rows, each sent once written (zstd)."""
        schema, sink = self.schema, io.BytesIO()
        with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
            async for group in connection.cursor(self.groups, *args, prefetch=1):
                columns = [pa.array(group[f.name], type=f.type) for f in schema]
                writer.write_batch(pa.record_batch(columns, schema=schema))
                yield sink.getvalue()
                sink.seek(0)
                sink.truncate()
        yield sink.getvalue()  # the footer

    async def stream(
        self, request: Request, database: Database, day: date, media_type: str, *more: object, name: str = ""
    ) -> Stream:
        """The week's rows (those of `scope`, `more` its parameters after the week), read in one snapshot and sent as
        PostgreSQL hands them over, under its ETag. `name`: the file's name after the week's, if any."""
        table = f"{SCHEMA}.{self.contract.name}"
        row = await read(
            request,
            database,
            f"SELECT {VERSION} AS version, EXISTS (SELECT 1 FROM {table} WHERE {self.scope}) AS known",
            day,
            *more,
        )
        if not row["known"]:  # type: ignore[index]
            raise NotFoundException(f"no {self.what} for the week of {day}")
        sent = row["version"]  # type: ignore[index]
        query = versioned(f"SELECT {VERSION}", request)
        rows = self.csv_rows if media_type == "text/csv" else self.parquet_rows

        async def chunks() -> AsyncIterator[bytes]:
            async with database.snapshot() as connection:
                if await connection.fetchval(query) != sent:
                    raise PublicationChangedError(f"a new publication landed as the {day} export started; retry")
                yield b""  # the snapshot is this answer's: the headers may go
                async for chunk in rows(connection, day, *more):
                    yield chunk

        # The snapshot is taken and checked before the headers are sent: a publication landing in between is a 503
        # the client retries, not a 200 whose body is cut (an error after the headers can only cut the connection).
        body = chunks()
        try:
            await anext(body)
        except PublicationChangedError as error:
            raise ServiceUnavailableException(str(error), headers={"Retry-After": "1"}) from error
        suffix = "csv" if media_type == "text/csv" else "parquet"
        file = "-".join(filter(None, [self.what.replace(" ", "-"), str(day), name]))
        disposition = f'attachment; filename="{file}.{suffix}"'
        return Stream(body, media_type=media_type, headers={"Content-Disposition": disposition})


SCORES = Export(SCORED, tuple(Score.__struct_fields__), "scores", f"{placed(INSPECTION_SCORES.name)} t")
VISITS = Export(VISIT_LIST, ("week", *Visit.__struct_fields__), "visit list")
