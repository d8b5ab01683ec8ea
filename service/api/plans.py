"""The weekly plan over HTTP: a week's route sheets (by inspector, day and stop, paged, with the week's totals), one
inspector's week with its days, that week as CSV or Parquet, and how past plans did once their inspections arrived.

`current` in place of a week names the newest plan built.
"""

from datetime import date

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import Parameter
from litestar.response import Stream

from chicago_food_assets.core.declarations.contracts import INSPECTION_PLAN, SCHEMA
from service.api import exports, pages, parameters
from service.api.parameters import MAX_LIMIT
from service.api.reads import read
from service.api.responses import EXPORTED, NOT_MODIFIED, VERSIONED, passthrough
from service.api.schemas import InspectorWeek, Plan, PlanEvaluation, PlanJudged, Stop
from service.api.versions import VERSION
from service.db import Database

TABLE = f"{SCHEMA}.{INSPECTION_PLAN.name}"
NEWEST = f"SELECT max(week) FROM {TABLE}"
NO_PLAN = "no plan has been built yet"
STOP_OBJECT = pages.json_object(Stop.__struct_fields__, "p")
# a week's days: one row per (inspector, day), the day's km once
DAYS = f"SELECT DISTINCT ON (inspector, day) inspector, day, day_km FROM {TABLE} WHERE week = $1"
# a week's inspectors: one row each, the week's km in list order once
WEEKS = f"SELECT DISTINCT ON (inspector) inspector, list_order_km FROM {TABLE} WHERE week = $1 AND day IS NOT NULL"
TOTALS = f"""(SELECT json_build_object(
    'policy', min(t.policy), 'candidates', l.listed, 'planned', count(*), 'backlog', l.listed - count(*),
    'inspectors', count(DISTINCT t.inspector), 'floor', count(*) FILTER (WHERE t.why IN ('floor', 'both')),
    'to_locate', count(*) FILTER (WHERE t.route = 'to_locate'),
    'time_limit', count(*) FILTER (WHERE t.route = 'time_limit'),
    'km', (SELECT COALESCE(round(sum(d.day_km)::numeric, 2), 0) FROM ({DAYS} AND day IS NOT NULL) d),
    'list_order_km', (SELECT COALESCE(round(sum(w.list_order_km)::numeric, 2), 0) FROM ({WEEKS}) w))
    FROM {TABLE} t, (SELECT count(*) AS listed FROM {SCHEMA}.visit_list WHERE week = $1) l
    WHERE t.week = $1 GROUP BY l.listed)"""
PAGE = pages.paged(
    TABLE,
    Stop.__struct_fields__,
    ["($2::smallint IS NULL OR inspector = $2)", "($3::date IS NULL OR day = $3)"],
    key="line",
    extras={"totals": TOTALS},
)
INSPECTOR = f"""
SELECT {VERSION} AS version,
    (SELECT min(inspector_name) FROM {TABLE} WHERE week = $1 AND inspector = $2) AS name,
    convert_to(json_build_object(
        'week', $1::date, 'inspector', $2::smallint,
        'inspector_name', (SELECT min(inspector_name) FROM {TABLE} WHERE week = $1 AND inspector = $2),
        'days', (SELECT COALESCE(json_agg(json_build_object('day', d.day,
                     'stops', (SELECT count(*) FROM {TABLE} s WHERE s.week = $1 AND s.inspector = $2 AND s.day = d.day),
                     'km', round(d.day_km::numeric, 2))
                     ORDER BY d.day), '[]')
                 FROM ({DAYS} AND inspector = $2 AND day IS NOT NULL) d),
        'items', (SELECT COALESCE(json_agg({STOP_OBJECT} ORDER BY p.line), '[]')
                  FROM {TABLE} p WHERE p.week = $1 AND p.inspector = $2),
        'km', (SELECT COALESCE(round(sum(d.day_km)::numeric, 2), 0)
               FROM ({DAYS} AND inspector = $2 AND day IS NOT NULL) d),
        'list_order_km', (SELECT COALESCE(round(max(w.list_order_km)::numeric, 2), 0)
                          FROM ({WEEKS} AND inspector = $2) w))::text, 'UTF8') AS body"""
SHEET = tuple(  # a route sheet's columns: what an inspector reads in the car
    [
        "inspector",
        "inspector_name",
        "day",
        "stop",
        "dba_name",
        "aka_name",
        "address",
        "zip",
        "risk",
        "score",
        "reasons",
        "why",
        "km",
        "establishment",
        "license",
        "latitude",
        "longitude",
        "route",
    ]
)
SHEETS = exports.Export(
    INSPECTION_PLAN, ("week", *SHEET), "plan", key="line", scope="week = $1 AND inspector = $2::smallint"
)


async def plan_week(request: Request, database: Database, week: str) -> date:
    """The Monday a plan route names: a week's date, or `current` (the newest plan built)."""
    return await pages.named_week(
        request, database, week, NEWEST, f"{NO_PLAN}: materialize inspection_plan (./run demo builds one)"
    )


def a_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise ValidationException(f"day must be a date in YYYY-MM-DD form, got {value!r}") from error


def inspector_number(value: str) -> int:
    """An inspector's number: 1 to 32767 (the plan's smallint)."""
    number = parameters.whole(value, "inspector")
    if not 1 <= number <= 32_767:
        raise ValidationException(f"inspector must be a number from 1 to 32767, got {value}")
    return number


@get("/v1/plans/{week:str}", tags=["plans"], responses=NOT_MODIFIED, **VERSIONED)
async def plan(
    request: Request,
    database: Database,
    week: str = Parameter(description="the plan's Monday (YYYY-MM-DD), or `current` for the newest plan"),
    inspector: int | None = Parameter(default=None, ge=1, le=32_767, description="only this inspector's stops"),
    day: str | None = Parameter(default=None, max_length=10, description="only this day's stops (YYYY-MM-DD)"),
    limit: int = Parameter(default=100, ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT}"),
    cursor: str | None = Parameter(default=None, max_length=64, description="next_cursor of the previous page"),
) -> Response[Plan]:
    """The week's plan by inspector, day and stop: each visit's place, score, reasons, why it is planned and the km
    from the previous stop, with the week's totals (candidates on the list, planned, backlog, km)."""
    monday = await plan_week(request, database, week)
    filters = (inspector, None if day is None else a_day(day))
    return await pages.week_page(request, database, PAGE, monday, "plan", filters, cursor, limit, extras=("totals",))


@get("/v1/plans/{week:str}/inspectors/{inspector:str}", tags=["plans"], responses=NOT_MODIFIED, **VERSIONED)
async def inspector_week(
    request: Request,
    database: Database,
    week: str = Parameter(description="the plan's Monday (YYYY-MM-DD), or `current`"),
    inspector: str = Parameter(description="the inspector's number on the plan (1, 2, ...)"),
) -> Response[InspectorWeek]:
    """One inspector's week: per day its stops and km, every stop in visiting order (the places to locate last),
    and the week's km against the same stops taken in list order."""
    number = inspector_number(inspector)
    monday = await plan_week(request, database, week)
    row = await read(request, database, INSPECTOR, monday, number)
    if row is None or row["name"] is None:
        raise NotFoundException(f"no inspector {number} on the plan of the week of {monday}")
    return passthrough(row["body"])


async def _sheet(request: Request, database: Database, week: str, inspector: str, media_type: str) -> Stream:
    number = inspector_number(inspector)
    monday = await plan_week(request, database, week)
    return await SHEETS.stream(request, database, monday, media_type, number, name=f"inspector-{number}")


@get(
    "/v1/plans/{week:str}/inspectors/{inspector:str}/stops.csv",
    tags=["plans"],
    media_type="text/csv",
    responses=NOT_MODIFIED,
    **EXPORTED,
)
async def inspector_csv(request: Request, database: Database, week: str, inspector: str) -> Stream:
    """One inspector's week as CSV (a route sheet): day, stop, name, address, score, reasons, why planned, km."""
    return await _sheet(request, database, week, inspector, "text/csv")


@get(
    "/v1/plans/{week:str}/inspectors/{inspector:str}/stops.parquet",
    tags=["plans"],
    media_type=exports.PARQUET,
    responses=NOT_MODIFIED,
    **EXPORTED,
)
async def inspector_parquet(request: Request, database: Database, week: str, inspector: str) -> Stream:
    """One inspector's week as a Parquet file, typed as `Stop`."""
    return await _sheet(request, database, week, inspector, exports.PARQUET)


JUDGED_OBJECT = pages.json_object(PlanJudged.__struct_fields__, "e")
EVALUATION = f"""
SELECT {VERSION} AS version, EXISTS (SELECT 1 FROM {SCHEMA}.plan_evaluation) AS known,
    convert_to(json_build_object(
        'pooled', (SELECT COALESCE(json_agg({JUDGED_OBJECT} ORDER BY e.model_version, e.policy), '[]')
                   FROM {SCHEMA}.plan_evaluation e WHERE e.scope = 'pooled'),
        'weeks', (SELECT COALESCE(json_agg({JUDGED_OBJECT} ORDER BY e.week DESC), '[]')
                  FROM {SCHEMA}.plan_evaluation e WHERE e.scope <> 'pooled'))::text, 'UTF8') AS body"""


@get("/v1/plans/evaluation", tags=["plans"], responses=NOT_MODIFIED, **VERSIONED)
async def plan_evaluation(request: Request, database: Database) -> Response[PlanEvaluation]:
    """How past plans did once their inspections arrived: the fail rate of the canvass inspections at planned places
    against the week's other canvass inspections, with counts and 95% intervals; per week and pooled."""
    row = await read(request, database, EVALUATION)
    if row is None or not row["known"]:
        raise NotFoundException("no plan has been judged yet: materialize visit_list_outcomes, then plan_evaluation")
    return passthrough(row["body"])


ROUTES = [plan_evaluation, plan, inspector_week, inspector_csv, inspector_parquet]
