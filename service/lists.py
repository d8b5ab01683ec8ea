"""The visit list over HTTP: a week's list in visiting order (paged and filtered like a week's scores), its exports
(the route sheet as CSV or Parquet), and how past lists did once their inspections arrived.

`current` in place of a week names the newest list built.
"""

from datetime import date

import msgspec
from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.response import Stream

from chicago_food_assets.core.contracts import SCHEMA
from service import exports, parameters
from service.db import Database
from service.parameters import MAX_LIMIT
from service.reads import read
from service.responses import EXPORTED, NOT_MODIFIED, VERSIONED, passthrough
from service.schemas import Judged, ListEvaluation, Visit, VisitList
from service.versions import VERSION

CURRENT = "current"
VISIT_OBJECT = "json_build_object(" + ", ".join(f"'{c}', v.{c}" for c in Visit.__struct_fields__) + ")"
NEWEST = f"SELECT max(week) FROM {SCHEMA}.visit_list"

LIST = f"""
WITH page AS (
    SELECT *, row_number() OVER (ORDER BY rank) AS n FROM {SCHEMA}.visit_list
    WHERE week = $1 AND ($2::text IS NULL OR facility_type = $2) AND ($3::text IS NULL OR zip = $3)
      AND score >= $4 AND rank > $5
    ORDER BY rank LIMIT $6 + 1)
SELECT {VERSION} AS version,
       EXISTS (SELECT 1 FROM {SCHEMA}.visit_list WHERE week = $1) AS known,
       (SELECT convert_to(COALESCE(json_agg({VISIT_OBJECT} ORDER BY v.rank), '[]')::text, 'UTF8')
        FROM page v WHERE v.n <= $6) AS items,
       (SELECT max(rank) FROM page WHERE n <= $6) AS last,
       (SELECT count(*) FROM page) > $6 AS more"""


async def list_week(request: Request, database: Database, week: str) -> date:
    """The Monday a list route names: a week's date, or `current` (the newest list built)."""
    if week != CURRENT:
        return parameters.week(week)
    row = await read(request, database, f"SELECT {VERSION} AS version, ({NEWEST}) AS week")
    if row is None or row["week"] is None:
        raise NotFoundException("no visit list has been built yet: materialize visit_list (./run demo builds one)")
    return row["week"]


@get("/v1/lists/{week:str}", tags=["lists"], responses=NOT_MODIFIED, **VERSIONED)
async def visit_list(
    request: Request,
    database: Database,
    week: str = Parameter(description="the list's Monday (YYYY-MM-DD), or `current` for the newest list"),
    facility_type: str | None = Parameter(default=None, max_length=100, description="only this facility type"),
    zip: str | None = Parameter(default=None, max_length=10, description="only this ZIP code"),
    min_score: float = Parameter(default=0.0, ge=0.0, le=1.0, description="only scores at least this"),
    limit: int = Parameter(default=50, ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT}"),
    cursor: str | None = Parameter(default=None, max_length=64, description="next_cursor of the previous page"),
) -> Response[VisitList]:
    """The establishments due a canvass that week, in visiting order: names, addresses, coordinates, score, reasons
    and days overdue, scored before the week began."""
    day = await list_week(request, database, week)
    after = request.app.state.cursors.after(cursor, day)
    facility_type, zip = parameters.text(facility_type, "facility_type"), parameters.text(zip, "zip")
    row = await read(request, database, LIST, day, facility_type, zip, min_score, after, limit)
    if not row["known"]:  # type: ignore[index]
        raise NotFoundException(f"no visit list for the week of {day}")
    following = request.app.state.cursors.following(day, row["last"]) if row["more"] else None  # type: ignore[index]
    return passthrough(
        b'{"week":"%s","items":%s,"next_cursor":%s}'
        % (day.isoformat().encode(), row["items"], msgspec.json.encode(following))  # type: ignore[index]
    )


@get("/v1/lists/{week:str}/visits.csv", tags=["lists"], media_type="text/csv", responses=NOT_MODIFIED, **EXPORTED)
async def visit_list_csv(request: Request, database: Database, week: str) -> Stream:
    """A whole list, in visiting order, as CSV with a header line (the week, then the columns of `Visit`)."""
    return await exports.VISITS.stream(request, database, await list_week(request, database, week), "text/csv")


@get(
    "/v1/lists/{week:str}/visits.parquet",
    tags=["lists"],
    media_type=exports.PARQUET,
    responses=NOT_MODIFIED,
    **EXPORTED,
)
async def visit_list_parquet(request: Request, database: Database, week: str) -> Stream:
    """A whole list, in visiting order, as a Parquet file (typed columns as in `Visit`), streamed."""
    return await exports.VISITS.stream(request, database, await list_week(request, database, week), exports.PARQUET)


JUDGED_OBJECT = "json_build_object(" + ", ".join(f"'{c}', e.{c}" for c in Judged.__struct_fields__) + ")"
EVALUATION = f"""
SELECT {VERSION} AS version, EXISTS (SELECT 1 FROM {SCHEMA}.list_evaluation) AS known,
    convert_to(json_build_object(
        'pooled', (SELECT COALESCE(json_agg({JUDGED_OBJECT} ORDER BY e.model_version), '[]')
                   FROM {SCHEMA}.list_evaluation e WHERE e.scope = 'pooled'),
        'weeks', (SELECT COALESCE(json_agg({JUDGED_OBJECT} ORDER BY e.week DESC), '[]')
                  FROM {SCHEMA}.list_evaluation e WHERE e.scope <> 'pooled'))::text, 'UTF8') AS body"""


@get("/v1/lists/evaluation", tags=["lists"], responses=NOT_MODIFIED, **VERSIONED)
async def list_evaluation(request: Request, database: Database) -> Response[ListEvaluation]:
    """How past lists did once their inspections arrived: coverage, ROC AUC, precision at the top, fails found
    earlier; per week and pooled over each model's weeks outside its training (the model frozen when the list was
    published)."""
    row = await read(request, database, EVALUATION)
    if row is None or not row["known"]:
        raise NotFoundException("no list has been judged yet: materialize visit_list_outcomes, then list_evaluation")
    return passthrough(row["body"])


ROUTES = [list_evaluation, visit_list, visit_list_csv, visit_list_parquet]
