"""A week of a ranked table, one page at a time: the SQL (one statement: the page, whether the week exists, where the
next page starts, under the publication's version) and the answer with its signed `next_cursor`. Used by a week's
scores and a week's visit list."""

from datetime import date

import msgspec
from litestar import Request, Response
from litestar.exceptions import NotFoundException

from service.api import parameters
from service.api.reads import read
from service.api.responses import passthrough
from service.api.versions import VERSION
from service.db import Database

CURRENT = "current"  # in place of a week: the newest one


async def named_week(request: Request, database: Database, week: str, newest: str, nothing: str) -> date:
    """The Monday a route names: a week's date, or `current` (the newest week of the `newest` query; a 404 saying
    `nothing` when there is none)."""
    if week != CURRENT:
        return parameters.week(week)
    row = await read(request, database, f"SELECT {VERSION} AS version, ({newest}) AS week")
    if row is None or row["week"] is None:
        raise NotFoundException(nothing)
    return row["week"]


def json_object(fields: tuple[str, ...] | list[str], alias: str) -> str:
    """A row of `alias` as a JSON object of these fields, built by PostgreSQL."""
    return "json_build_object(" + ", ".join(f"'{name}', {alias}.{name}" for name in fields) + ")"


def paged(
    table: str,
    fields: tuple[str, ...] | list[str],
    conditions: list[str],
    key: str = "rank",
    extras: dict[str, str] | None = None,
) -> str:
    """The page query of a weekly ranked `table`: $1 the week, then one parameter per condition (in order, each
    written with its own $k), then the `key` (a week's rows numbered 1..n) after which the page starts and the
    page's size. `extras`: more JSON values of the same snapshot (name: SQL of a json value), e.g. a week's totals."""
    after, limit = f"${len(conditions) + 2}", f"${len(conditions) + 3}"
    where = " AND ".join(["week = $1", *conditions, f"{key} > {after}"])
    more = "".join(
        f",\n       convert_to(({expression})::text, 'UTF8') AS {name}" for name, expression in (extras or {}).items()
    )
    return f"""
WITH page AS (
    SELECT *, row_number() OVER (ORDER BY {key}) AS n FROM {table} WHERE {where} ORDER BY {key} LIMIT {limit} + 1)
SELECT {VERSION} AS version,
       EXISTS (SELECT 1 FROM {table} WHERE week = $1) AS known,
       (SELECT convert_to(COALESCE(json_agg({json_object(fields, "p")} ORDER BY p.{key}), '[]')::text, 'UTF8')
        FROM page p WHERE p.n <= {limit}) AS items,
       (SELECT max({key}) FROM page WHERE n <= {limit}) AS last,
       (SELECT count(*) FROM page) > {limit} AS more{more}"""


async def week_page(
    request: Request,
    database: Database,
    query: str,
    day: date,
    what: str,
    filters: tuple,
    cursor: str | None,
    limit: int,
    extras: tuple[str, ...] = (),
) -> Response:
    """`{"week", "items", "next_cursor"}` (and the `extras` the query selects) for the page of `day` after `cursor`
    (a 404 naming `what` for a week the table does not hold)."""
    cursors = request.app.state.cursors
    row = await read(request, database, query, day, *filters, cursors.after(cursor, day), limit)
    if not row["known"]:  # type: ignore[index]
        raise NotFoundException(f"no {what} for the week of {day}")
    following = cursors.following(day, row["last"]) if row["more"] else None  # type: ignore[index]
    more = b"".join(b',"%s":%s' % (name.encode(), row[name]) for name in extras)  # type: ignore[index]
    return passthrough(
        b'{"week":"%s","items":%s,"next_cursor":%s%s}'
        % (day.isoformat().encode(), row["items"], msgspec.json.encode(following), more)  # type: ignore[index]
    )
