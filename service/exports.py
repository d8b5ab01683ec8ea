"""A whole week's scores as a file (CSV written by PostgreSQL's COPY, or typed Parquet), streamed from one
snapshot under that snapshot's ETag."""

import io
from collections.abc import AsyncIterator, Callable
from datetime import date

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq
from litestar import Request
from litestar.exceptions import NotFoundException
from litestar.response import Stream

from chicago_food_assets.core.contracts import INSPECTION_SCORES, SCHEMA
from service import db, parameters
from service.db import Database
from service.reads import read
from service.schemas import SCORE_COLUMNS, Score
from service.versions import VERSION, versioned

PARQUET = "application/vnd.apache.parquet"

EXPORT = f"SELECT {SCORE_COLUMNS} FROM {SCHEMA}.inspection_scores WHERE week = $1 ORDER BY rank"
EXPORT_CHUNK = 64 * 1024
EXPORT_BATCH = 5_000  # rows per Parquet row group
EXPORT_SCHEMA = pa.schema([pa.field(c.name, c.type.arrow, nullable=c.nullable) for c in INSPECTION_SCORES.columns])


class PublicationChangedError(RuntimeError):
    """A publication landed between an export's headers and its rows: the download is cut, the client retries."""


async def export(
    request: Request,
    database: Database,
    week: str,
    media_type: str,
    rows: Callable[[asyncpg.Connection, date], AsyncIterator[bytes]],
) -> Stream:
    """A week's rows, read in one snapshot and sent as PostgreSQL hands them over, under that snapshot's ETag."""
    day = parameters.week(week)
    row = await read(
        request,
        database,
        f"SELECT {VERSION} AS version, EXISTS (SELECT 1 FROM {SCHEMA}.inspection_scores WHERE week = $1) AS known",
        day,
    )
    if not row["known"]:  # type: ignore[index]
        raise NotFoundException(f"no scores for the week of {day}")
    sent = row["version"]  # type: ignore[index]
    query = versioned(f"SELECT {VERSION}", request)

    async def chunks() -> AsyncIterator[bytes]:
        async with database.snapshot() as connection:
            if await connection.fetchval(query) != sent:
                raise PublicationChangedError(f"a new publication landed while the {day} export started; retry")
            async for chunk in rows(connection, day):
                yield chunk

    suffix = "csv" if media_type == "text/csv" else "parquet"
    disposition = f'attachment; filename="scores-{day}.{suffix}"'
    return Stream(chunks(), media_type=media_type, headers={"Content-Disposition": disposition})


def csv_rows(connection: asyncpg.Connection, day: date) -> AsyncIterator[bytes]:
    return db.csv(connection, EXPORT, day, chunk=EXPORT_CHUNK)


# One row per row group, each column an array (ranks 1..n within a week): Arrow takes the columns whole, no
# row-by-row transposition in Python.
GROUP = f"(rank - 1) / {EXPORT_BATCH}"
EXPORT_GROUPS = f"""SELECT {", ".join(f"array_agg({name} ORDER BY rank) AS {name}" for name in Score.__struct_fields__)}
    FROM {SCHEMA}.inspection_scores WHERE week = $1 GROUP BY {GROUP} ORDER BY {GROUP}"""


async def parquet_rows(connection: asyncpg.Connection, day: date) -> AsyncIterator[bytes]:
    """Row groups of EXPORT_BATCH rows, each sent once written (zstd)."""
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, EXPORT_SCHEMA, compression="zstd") as writer:
        async for group in connection.cursor(EXPORT_GROUPS, day, prefetch=1):
            columns = [pa.array(group[f.name], type=f.type) for f in EXPORT_SCHEMA]
            writer.write_batch(pa.record_batch(columns, schema=EXPORT_SCHEMA))
            yield sink.getvalue()
            sink.seek(0)
            sink.truncate()
    yield sink.getvalue()  # the footer
