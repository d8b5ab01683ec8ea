"""The score API: how risky is this establishment, which places first this week, which model said so.

Litestar on uvicorn; reads PostgreSQL as the read-only role; OpenAPI at /schema. Start it with `./run api`
(or `python -m service`, settings from CHICAGO_FOOD_API_HOST, CHICAGO_FOOD_API_PORT, CHICAGO_FOOD_API_DATABASE_URL).
"""

import json
import logging
import os
import uuid
from pathlib import Path
from typing import Literal, cast

import asyncpg
import swagger_ui
from litestar import Litestar, MediaType, Request, Response, get
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.params import Parameter
from litestar.response import Stream
from litestar.static_files import create_static_files_router

from chicago_food_assets.core.declarations.contracts import CURRENT_MODEL, SCHEMA
from service.api import exports, lists, pages, parameters, plans
from service.api.cursors import Cursors
from service.api.parameters import MAX_LIMIT
from service.api.reads import document, read
from service.api.responses import EXPORTED, NOT_MODIFIED, VERSIONED, passthrough
from service.api.schemas import (
    GROUP_COLUMNS,
    SERVED_MODEL,
    Establishment,
    Group,
    Model,
    Past,
    Score,
    WeekScores,
    placed,
)
from service.api.versions import VERSION, BoundedStore, Publication, cache_config, headers, revalidate
from service.db import Database, UnavailableError

# The docs page's scripts and styles come from an installed package (Swagger UI 5, which renders OpenAPI 3.1),
# never from a CDN: /schema works offline.
DOCS_STATIC = Path(swagger_ui.__file__).parent / "static"
DOCS_FILES = create_static_files_router(path="/schema/static", directories=[DOCS_STATIC], include_in_schema=False)
DOCS = SwaggerRenderPlugin(
    path="/",
    js_url="/schema/static/swagger-ui-bundle.js",
    css_url="/schema/static/swagger-ui.css",
    standalone_preset_js_url="/schema/static/swagger-ui-standalone-preset.js",
    favicon="<link rel='icon' type='image/png' href='/schema/static/favicon-32x32.png'>",
)
HISTORY = 100  # scores of an establishment's past inspections returned, newest first


@get("/health", sync_to_thread=False, tags=["operations"])
def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@get("/ready", tags=["operations"])
async def ready(database: Database) -> Response[dict[str, str]]:
    """The database answers and a model version is published."""
    try:
        row = await database.fetchrow(f"SELECT model_version FROM {SCHEMA}.current_model LIMIT 1")
    except UnavailableError as error:
        return Response({"status": "unavailable", "reason": error.public}, status_code=503, headers=RETRY_AFTER)
    if row is None:
        return Response({"status": "unavailable", "reason": "no model version published yet"}, status_code=503)
    return Response({"status": "ready", "model_version": row["model_version"]})


SCORE_OBJECT = pages.json_object(Score.__struct_fields__, "s")
INSPECTION = (
    f"SELECT convert_to({SCORE_OBJECT}::text, 'UTF8') FROM {placed('inspection_scores')} s WHERE inspection_id = $1"
)


@get(
    "/v1/inspections/{inspection_id:str}/score",
    tags=["scores"],
    responses=NOT_MODIFIED,
    **VERSIONED,
)
async def inspection_score(request: Request, database: Database, inspection_id: str) -> Response[Score]:
    """The score of one inspection."""
    body = await document(request, database, INSPECTION, parameters.whole(inspection_id, "inspection_id"))
    if body is None:
        raise NotFoundException(f"no score for inspection {inspection_id}")
    return passthrough(body)


def establishment_query(listed: bool) -> str:
    """An establishment's answer in one statement: its entry on the newest list read once (a lateral join), and why it
    is not on it; `listed=False` before the first list is built (no visit_list table yet)."""
    if listed:
        why = f"CASE WHEN l.entry IS NULL THEN ({lists.NOT_LISTED}) END"
        entry = f"'listed', l.entry, 'listed_week', n.week, 'not_listed', {why}"
        joins = (
            f" CROSS JOIN ({lists.NEWEST}) AS n(week) LEFT JOIN LATERAL (SELECT {lists.VISIT_OBJECT} AS entry"
            f" FROM {SCHEMA}.visit_list v WHERE v.week = n.week AND v.license = s.license LIMIT 1) l ON true"
        )
    else:
        entry, joins = f"'listed', NULL, 'listed_week', NULL, 'not_listed', '{lists.NO_LIST}'", ""
    return f"""
SELECT convert_to(json_build_object(
    'license', s.license, 'establishment', s.establishment, 'facility_type', s.facility_type,
    'current', {SCORE_OBJECT}, 'inspections_scored', s.inspections_scored,
    'history', COALESCE((SELECT json_agg(h) FROM (
        SELECT {", ".join(f"p.{name}" for name in Past.__struct_fields__)}
        FROM {SCHEMA}.inspection_scores p WHERE p.license = s.license
        ORDER BY p.inspection_date DESC, p.inspection_id DESC LIMIT {HISTORY}) h), '[]'::json),
    {entry}
)::text, 'UTF8')
FROM {placed("establishment_risk")} s{joins} WHERE s.license = $1"""


ESTABLISHMENT, UNLISTED = establishment_query(True), establishment_query(False)


@get(
    "/v1/establishments/{license:str}",
    tags=["scores"],
    responses=NOT_MODIFIED,
    **VERSIONED,
)
async def establishment(request: Request, database: Database, license: str) -> Response[Establishment]:
    """An establishment's current risk, its score history (newest first, at most 100) and its entry on the newest
    visit list (null when it is not on it), by business license."""
    number = parameters.whole(license, "license")
    if number == 0:
        raise ValidationException("license 0 means 'no license' in the City's data; look those places up by inspection")
    try:
        body = await document(request, database, ESTABLISHMENT, number)
    except UnavailableError as error:
        if not isinstance(error.__cause__, asyncpg.UndefinedTableError):
            raise
        body = await document(request, database, UNLISTED, number)
    if body is None:
        raise NotFoundException(f"no establishment with license {number}")
    return passthrough(body)


WEEK = pages.paged(
    f"{placed('inspection_scores')} t",
    Score.__struct_fields__,
    ["($2::text IS NULL OR lower(facility_type) = lower($2))", "score >= $3"],
)


@get(
    "/v1/weeks/{week:str}/scores",
    tags=["scores"],
    responses=NOT_MODIFIED,
    **VERSIONED,
)
async def week_scores(
    request: Request,
    database: Database,
    week: str,
    facility_type: str | None = Parameter(default=None, max_length=100, description="only this facility type"),
    min_score: float = Parameter(default=0.0, ge=0.0, le=1.0, description="only scores at least this"),
    limit: int = Parameter(default=50, ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT}"),
    cursor: str | None = Parameter(default=None, max_length=64, description="next_cursor of the previous page"),
) -> Response[WeekScores]:
    """A week's inspections, riskiest first, with cursor paging."""
    filters = (parameters.text(facility_type, "facility_type"), min_score)
    return await pages.week_page(request, database, WEEK, parameters.week(week), "scores", filters, cursor, limit)


@get(
    "/v1/weeks/{week:str}/scores.csv",
    tags=["exports"],
    media_type="text/csv",
    responses=NOT_MODIFIED,
    **EXPORTED,
)
async def week_scores_csv(request: Request, database: Database, week: str) -> Stream:
    """A whole week's scores, riskiest first, as CSV with a header line (columns as in `Score`), streamed."""
    return await exports.SCORES.stream(request, database, parameters.week(week), "text/csv")


@get(
    "/v1/weeks/{week:str}/scores.parquet",
    tags=["exports"],
    media_type=exports.PARQUET,
    responses=NOT_MODIFIED,
    **EXPORTED,
)
async def week_scores_parquet(request: Request, database: Database, week: str) -> Stream:
    """A whole week's scores, riskiest first, as a Parquet file (typed columns as in `Score`), streamed."""
    return await exports.SCORES.stream(request, database, parameters.week(week), exports.PARQUET)


CURRENT = f"""
SELECT {VERSION} AS version, {", ".join(f"m.{name}" for name in SERVED_MODEL)}, (
    SELECT json_agg(g ORDER BY g.group_size DESC) FROM (
        SELECT {GROUP_COLUMNS}
        FROM {SCHEMA}.fairness_audit f WHERE f.model_version = m.model_version) g)::text AS fairness
FROM {SCHEMA}.current_model m LIMIT 1"""


@get("/v1/models/current", tags=["models"], responses=NOT_MODIFIED, **VERSIONED)
async def current_model(request: Request, database: Database) -> Model:
    """The model behind the scores: version, windows, holdout metrics, fairness by facility type."""
    row = await read(request, database, CURRENT)
    if row is None:
        raise NotFoundException("no model published yet")
    served = {
        c.name: json.loads(row[c.name]) if c.kind == "json" and row[c.name] is not None else row[c.name]
        for c in CURRENT_MODEL.select(SERVED_MODEL).columns
    }
    served["metrics"] = {  # a metric that could not be computed (NaN, stored as null) is left out
        name: {k: v for k, v in values.items() if isinstance(v, float | int)}
        for name, values in served["metrics"].items()
    }
    return Model(**served, fairness=[Group(**g) for g in json.loads(row["fairness"] or "[]")])


RETRY_AFTER = {"Retry-After": "5"}
log = logging.getLogger("service")


def _unavailable(request: Request, error: UnavailableError) -> Response:
    """503 with Retry-After; the body says only what a client may know, the log says the rest."""
    log.warning("503 %s for %s %s: %s", uuid.uuid4().hex[:12], request.method, request.url.path, error)
    body = {"status_code": 503, "detail": error.public}
    return Response(body, status_code=503, media_type=MediaType.JSON, headers=RETRY_AFTER)


def _unexpected(request: Request, error: Exception) -> Response:
    """A bug answers 500 with an id to quote; the traceback goes to the log under that id."""
    request_id = uuid.uuid4().hex[:12]
    log.error("500 %s for %s %s", request_id, request.method, request.url.path, exc_info=error)
    body = {"status_code": 500, "detail": "internal error", "request_id": request_id}
    return Response(body, status_code=500, media_type=MediaType.JSON)


def _http(request: Request, error: HTTPException) -> Response:
    """4xx and 5xx as JSON that says what was wrong (validation details included)."""
    body = {"status_code": error.status_code, "detail": error.detail}
    if error.extra:
        body["extra"] = error.extra
    headers = dict(error.headers or {})
    if error.status_code == 429:  # Litestar's rate limiter says when in RateLimit-Reset; HTTP clients read Retry-After
        headers.setdefault("Retry-After", str(max(1, int(headers.get("RateLimit-Reset", 60)))))
    return Response(body, status_code=error.status_code, media_type=MediaType.JSON, headers=headers)


RATE_UNITS = ("second", "minute", "hour", "day")


def create_app(database_url: str | None = None) -> Litestar:
    database = Database(
        database_url or os.environ["CHICAGO_FOOD_API_DATABASE_URL"],
        max_size=int(os.environ.get("CHICAGO_FOOD_API_POOL_SIZE", "8")),
    )
    # settings are read here, when the app is built, not when the module is imported
    cursor_key = os.environ.get("CHICAGO_FOOD_API_CURSOR_KEY", "").encode() or None
    store = BoundedStore()
    publication = Publication(database, store)

    def provide() -> Database:
        return database

    async def close() -> None:
        await database.close()

    # e.g. "minute:600" per client address; off if unset
    limit = os.environ.get("CHICAGO_FOOD_API_RATE_LIMIT", "")
    cached = os.environ.get("CHICAGO_FOOD_API_CACHE", "on") != "off"
    middleware: list = []  # first is outermost: the rate limit counts answers from the cache and 304s too
    if limit and limit != "off":
        unit, count = limit.split(":")
        if unit not in RATE_UNITS:
            raise ValueError(f"CHICAGO_FOOD_API_RATE_LIMIT={limit!r}: the unit must be one of {', '.join(RATE_UNITS)}")
        rate = (cast(Literal["second", "minute", "hour", "day"], unit), int(count))
        middleware.append(RateLimitConfig(rate_limit=rate, exclude=["/health", "/ready", "/schema"]).middleware)
    middleware.append(revalidate(publication, cached))

    return Litestar(
        route_handlers=[
            health,
            ready,
            inspection_score,
            establishment,
            week_scores,
            week_scores_csv,
            week_scores_parquet,
            current_model,
            *lists.ROUTES,
            *plans.ROUTES,
            DOCS_FILES,
        ],
        dependencies={"database": Provide(provide, use_cache=True, sync_to_thread=False)},
        exception_handlers={UnavailableError: _unavailable, HTTPException: _http, Exception: _unexpected},
        before_request=parameters.only_known,
        before_send=[headers],
        middleware=middleware,
        stores={"response_cache": store},
        response_cache_config=cache_config(cached),
        state=State({"publication": publication, "cursors": Cursors(cursor_key)}),
        # brotli for clients that accept it (most browsers), gzip for the rest
        compression_config=CompressionConfig(
            backend="brotli", minimum_size=1000, brotli_quality=4, brotli_gzip_fallback=True, gzip_compress_level=5
        ),
        on_shutdown=[close],
        openapi_config=OpenAPIConfig(
            title="Chicago food inspection risk", version="1.0.0", path="/schema", render_plugins=[DOCS]
        ),
        debug=False,
    )
