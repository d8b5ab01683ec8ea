"""Reads that name their publication: every answer's ETag is the version read in the same statement."""

import asyncpg
from litestar import Request

from service.api.versions import VERSION, Publication, tag, versioned
from service.db import Database


def publication(request: Request) -> Publication:
    return request.app.state.publication


async def read(request: Request, database: Database, query: str, *args: object) -> asyncpg.Record | None:
    """One statement (one snapshot) whose `version` column names the publication its answer comes from."""
    row = await database.fetchrow(versioned(query, request), *args)
    if row is not None:
        await tag(request, publication(request), row["version"])
    return row


async def document(request: Request, database: Database, query: str, *args: object) -> bytes | None:
    row = await read(request, database, f"SELECT {VERSION} AS version, ({query}) AS body", *args)
    return row["body"]  # type: ignore[index]
