"""The visit list over HTTP: a week's list in visiting order (paged and filtered like a week's scores), its exports
(the route sheet as CSV or Parquet), and how past lists did once their inspections arrived.

`current` in place of a week names the newest list built.
"""

from datetime import date

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.response import Stream

from chicago_food_assets.core.declarations import canvass
from chicago_food_assets.core.declarations.contracts import SCHEMA
from chicago_food_assets.core.lists import visits
from service.api import exports, pages, parameters
from service.api.parameters import MAX_LIMIT
from service.api.reads import read
from service.api.responses import EXPORTED, NOT_MODIFIED, VERSIONED, passthrough
from service.api.schemas import Judged, ListEvaluation, Visit, VisitList
from service.api.versions import VERSION
from service.db import Database

VISIT_OBJECT = pages.json_object(Visit.__struct_fields__, "v")
NEWEST = f"SELECT max(week) FROM {SCHEMA}.visit_list"

NO_LIST = "no visit list has been built yet"


def not_listed(frequency_days: dict[int, int], within_years: float) -> str:
    """SQL: why the establishment `s.license` is not on the list of the week `n.week` (the newest), from the register:
    what a person can act on (closed, not seen for years, not due yet and when)."""
    every = " ".join(f"WHEN {risk} THEN {days}" for risk, days in frequency_days.items())
    days = f"(CASE COALESCE(e.risk, 1) {every} END)"
    due = f"(COALESCE(e.last_canvass, e.last_inspection) + {days})"
    years = f"{within_years:g}"
    return f"""SELECT CASE
        WHEN e.status <> 'active' THEN 'closed: its last visit, on ' || e.last_visit || ', found it '
            || replace(e.status, '_', ' ')
        WHEN e.last_visit < n.week - interval '{years} years' THEN 'last inspected or visited on ' || e.last_visit
            || ', more than {years} years before the list''s week: the list leaves out places likely gone'
        WHEN {due} > n.week + 6 THEN 'not due that week: its next canvass is due on ' || {due}
            || ' (risk ' || COALESCE(e.risk, 1) || ': every ' || {days} || ' days after the last canvass)'
        ELSE 'not on the list of the week of ' || n.week END
    FROM {SCHEMA}.establishments e WHERE e.license = s.license ORDER BY e.last_visit DESC LIMIT 1"""


NOT_LISTED = not_listed(dict(canvass.FREQUENCY_DAYS), visits.ListSettings().within_years)

LIST = pages.paged(
    f"{SCHEMA}.visit_list",
    Visit.__struct_fields__,
    ["($2::text IS NULL OR lower(facility_type) = lower($2))", "($3::text IS NULL OR zip = $3)", "score >= $4"],
)


async def list_week(request: Request, database: Database, week: str) -> date:
    """The Monday a list route names: a week's date, or `current` (the newest list built)."""
    return await pages.named_week(
        request, database, week, NEWEST, f"{NO_LIST}: materialize visit_list (./run demo builds one)"
    )


@get("/v1/lists/{week:str}", tags=["lists"], responses=NOT_MODIFIED, **VERSIONED)
async def visit_list(
    request: Request,
    database: Database,
    week: str = Parameter(description="the list's Monday (YYYY-MM-DD), or `current` for the newest list"),
    facility_type: str | None = Parameter(
        default=None, max_length=100, description="only this facility type (any case)"
    ),
    zip: str | None = Parameter(default=None, max_length=10, description="only this ZIP code (five digits)"),
    min_score: float = Parameter(default=0.0, ge=0.0, le=1.0, description="only scores at least this"),
    limit: int = Parameter(default=50, ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT}"),
    cursor: str | None = Parameter(default=None, max_length=64, description="next_cursor of the previous page"),
) -> Response[VisitList]:
    """The establishments due a canvass that week, in visiting order: names, addresses, coordinates, score, reasons
    and days overdue, scored before the week began."""
    filters = (parameters.text(facility_type, "facility_type"), parameters.zip_code(zip), min_score)
    day = await list_week(request, database, week)
    return await pages.week_page(request, database, LIST, day, "visit list", filters, cursor, limit)


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


JUDGED_OBJECT = pages.json_object(Judged.__struct_fields__, "e")
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
