"""A whole week of a served table as a file (CSV written by PostgreSQL's COPY, or typed Parquet), streamed from one
snapshot under that snapshot's ETag: a week's scores, a week's visit list (the route sheet)."""

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq
from litestar import Request
from litestar.exceptions import NotFoundException
from litestar.response import Stream

from chicago_food_assets.core.columns import Contract
from chicago_food_assets.core.contracts import INSPECTION_SCORES, SCHEMA, VISIT_LIST
from service import db
from service.db import Database
from service.reads import read
from service.schemas import Score, Visit
from service.versions import VERSION, versioned

PARQUET = "application/vnd.apache.parquet"
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

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(
            [
                pa.field(n, self.contract.column(n).type.arrow, nullable=self.contract.column(n).nullable)
                for n in self.fields
            ]
        )

    @property
    def query(self) -> str:
        return f"SELECT {', '.join(self.fields)} FROM {SCHEMA}.{self.contract.name} WHERE week = $1 ORDER BY rank"

    @property
    def groups(self) -> str:
        """One row per row group, each column an array (ranks 1..n within a week): Arrow takes the columns whole, no
        row-by-row transposition in Python."""
        group = f"(rank - 1) / {EXPORT_BATCH}"
        columns = ", ".join(f"array_agg({name} ORDER BY rank) AS {name}" for name in self.fields)
        return f"SELECT {columns} FROM {SCHEMA}.{self.contract.name} WHERE week = $1 GROUP BY {group} ORDER BY {group}"

    def csv_rows(self, connection: asyncpg.Connection, day: date) -> AsyncIterator[bytes]:
        return db.csv(connection, self.query, day, chunk=EXPORT_CHUNK)

    async def parquet_rows(self, connection: asyncpg.Connection, day: date) -> AsyncIterator[bytes]:
        """Row groups of EXPORT_BATCH rows, each sent once written (zstd)."""
        schema, sink = self.schema, io.BytesIO()
        with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
            async for group in connection.cursor(self.groups, day, prefetch=1):
                columns = [pa.array(group[f.name], type=f.type) for f in schema]
                writer.write_batch(pa.record_batch(columns, schema=schema))
                yield sink.getvalue()
                sink.seek(0)
                sink.truncate()
        yield sink.getvalue()  # the footer

    async def stream(self, request: Request, database: Database, day: date, media_type: str) -> Stream:
        """The week's rows, read in one snapshot and sent as PostgreSQL hands them over, under its ETag."""
        table = f"{SCHEMA}.{self.contract.name}"
        row = await read(
            request,
            database,
            f"SELECT {VERSION} AS version, EXISTS (SELECT 1 FROM {table} WHERE week = $1) AS known",
            day,
        )
        if not row["known"]:  # type: ignore[index]
            raise NotFoundException(f"no {self.what} for the week of {day}")
        sent = row["version"]  # type: ignore[index]
        query = versioned(f"SELECT {VERSION}", request)
        rows = self.csv_rows if media_type == "text/csv" else self.parquet_rows

        async def chunks() -> AsyncIterator[bytes]:
            async with database.snapshot() as connection:
                if await connection.fetchval(query) != sent:
                    raise PublicationChangedError(f"a new publication landed while the {day} export started; retry")
                async for chunk in rows(connection, day):
                    yield chunk

        suffix = "csv" if media_type == "text/csv" else "parquet"
        name = self.what.replace(" ", "-")
        disposition = f'attachment; filename="{name}-{day}.{suffix}"'
        return Stream(chunks(), media_type=media_type, headers={"Content-Disposition": disposition})


SCORES = Export(INSPECTION_SCORES, tuple(Score.__struct_fields__), "scores")
VISITS = Export(VISIT_LIST, ("week", *Visit.__struct_fields__), "visit list")
