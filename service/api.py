"""The score API: how risky is this establishment, which places first this week, which model said so.

Litestar on uvicorn; reads PostgreSQL as the read-only role; OpenAPI at /schema. Start it with `./run api`
(or `python -m service`, settings from CHICAGO_FOOD_API_HOST, CHICAGO_FOOD_API_PORT, CHICAGO_FOOD_API_DATABASE_URL).
"""

import base64
import binascii
import hashlib
import hmac
import io
import json
import logging
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import asyncpg
import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import swagger_ui
from litestar import Litestar, MediaType, Request, Response, get
from litestar.config.compression import CompressionConfig
from litestar.datastructures import ResponseHeader, State
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.params import Parameter
from litestar.response import Stream
from litestar.static_files import create_static_files_router

from chicago_food_assets.core.contracts import INSPECTION_SCORES, SCHEMA, Contract
from service import db
from service.db import Database, UnavailableError
from service.versions import (
    CACHE_CONTROL,
    VERSION,
    BoundedStore,
    Publication,
    cache_config,
    headers,
    revalidate,
    tag,
    versioned,
)

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
MAX_LIMIT = 500
PARQUET = "application/vnd.apache.parquet"
HISTORY = 100


PYTHON_TYPES = {
    "bigint": int,
    "integer": int,
    "smallint": int,
    "float": float,
    "boolean": bool,
    "date": date,
    "instant": datetime,
    "text": str,
    "json": list[dict[str, str | float]],  # the served JSON column: a score's reasons (core/reasons.py)
}


def struct(name: str, contract: Contract) -> type[msgspec.Struct]:
    """A response type with the contract's columns (core/contracts.py), so the API and the table never drift."""
    fields = [
        (c.name, PYTHON_TYPES[c.kind] if not c.nullable else PYTHON_TYPES[c.kind] | None) for c in contract.columns
    ]
    return msgspec.defstruct(name, fields, module=__name__)


# period: training (in-sample), holdout or prediction for the model that scored it; failed: the known outcome
if TYPE_CHECKING:  # built from the contract at import: a type checker sees a struct

    class Score(msgspec.Struct): ...

    class Past(msgspec.Struct): ...

else:
    Score = struct("Score", INSPECTION_SCORES)
    Past = struct(
        "Past",
        INSPECTION_SCORES.select(
            ["inspection_id", "week", "inspection_date", "score", "rank", "period", "failed", "model_version"]
        ),
    )


class Establishment(msgspec.Struct):
    license: int
    establishment: str
    facility_type: str | None
    current: Score
    inspections_scored: int
    history: list[Past]  # newest first, at most 100


class WeekScores(msgspec.Struct):
    week: date
    items: list[Score]
    next_cursor: str | None  # pass as `cursor` for the next page; null on the last page


class Group(msgspec.Struct):
    facility_type: str
    group_size: int
    fpr: float | None
    fdr: float | None
    fpr_disparity: float | None
    fdr_disparity: float | None
    fpr_parity: bool
    fdr_parity: bool


class Model(msgspec.Struct):
    model_version: str
    name: str
    selected_by: str
    refit: bool
    training_from: date
    holdout_from: date
    holdout_to: date  # exclusive
    train_rows: int
    holdout_rows: int
    metrics: dict[str, dict[str, float]]
    features: list[str]
    fairness: list[Group]
    published_at: datetime
    selected_because: str | None  # the backtest's rule: best pooled ROC AUC, or a simpler model inside its interval
    backtest: list[dict[str, str | int | float | None]]  # per model: each cutoff and `pooled` (ROC AUC with its CI)
    ranking: dict[str, object] | None  # the deployed ranking policy (single or per-group thresholds) and why


SCORE_COLUMNS = ", ".join(Score.__struct_fields__)


def _score(row: object) -> Score:
    return Score(**{k: row[k] for k in Score.__struct_fields__})  # type: ignore[index]


BIGINT = 2**63 - 1


def _whole(value: str, name: str) -> int:
    """ASCII digits within PostgreSQL's bigint (`str.isdigit` alone accepts `²` and `①`, which `int` refuses)."""
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) > BIGINT:
        raise ValidationException(f"{name} must be a whole number of at most 19 digits, got {value[:40]!r}")
    return int(value)


def _text(value: str | None, name: str) -> str | None:
    """A text parameter PostgreSQL can hold: no NUL character."""
    if value is not None and "\x00" in value:
        raise ValidationException(f"{name} must not contain a NUL character")
    return value


def _week(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise ValidationException(f"week must be a date in YYYY-MM-DD form, got {value!r}") from error
    if day.weekday() != 0:
        raise ValidationException(f"week must be the Monday that starts the week, got {value} (a {day:%A})")
    return day


MAX_RANK = 2**31 - 1  # rank is a PostgreSQL integer
# Cursors are signed, so only ranks this API handed out come back. Set CHICAGO_FOOD_API_CURSOR_KEY to the same value
# on every replica; without it each process signs with a key of its own (a cursor then lives as long as it does).
CURSOR_KEY = os.environ.get("CHICAGO_FOOD_API_CURSOR_KEY", "").encode() or secrets.token_bytes(32)


def _signature(week: date, rank: int) -> str:
    digest = hmac.new(CURSOR_KEY, f"{week}:{rank}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode()


def _cursor(value: str | None, week: date) -> int:
    """The rank after which the next page starts: from a cursor this API signed for this week, range-checked."""
    if value is None:
        return 0
    try:
        rank_text, signature = base64.urlsafe_b64decode(value.encode()).decode().split(".", 1)
        rank = int(rank_text) if rank_text.isascii() and rank_text.isdigit() and len(rank_text) <= 10 else -1
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise ValidationException("cursor is not one this API returned") from error
    if not 0 < rank <= MAX_RANK or not hmac.compare_digest(signature, _signature(week, rank)):
        raise ValidationException("cursor is not one this API returned for this week")
    return rank


def _next_cursor(week: date, rank: int) -> str:
    return base64.urlsafe_b64encode(f"{rank}.{_signature(week, rank)}".encode()).decode()


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


def _json(document: bytes) -> Response:
    """A JSON document PostgreSQL already built (as UTF-8 bytes): passed through untouched (routes annotate the
    type it has, for the OpenAPI document)."""
    return Response(document, media_type=MediaType.JSON)


def _publication(request: Request) -> Publication:
    return request.app.state.publication


async def _read(request: Request, database: Database, query: str, *args: object) -> asyncpg.Record | None:
    """One statement (one snapshot) whose `version` column names the publication its answer comes from."""
    row = await database.fetchrow(versioned(query, request), *args)
    if row is not None:
        await tag(request, _publication(request), row["version"])
    return row


async def _document(request: Request, database: Database, query: str, *args: object) -> bytes | None:
    row = await _read(request, database, f"SELECT {VERSION} AS version, ({query}) AS body", *args)
    return row["body"]  # type: ignore[index]


# Every data route: cached by Litestar per publication (see service/versions.py), and documented with its
# validators and its 304.
VERSIONED: dict[str, Any] = {
    "cache": True,
    "response_headers": [
        ResponseHeader(
            name="ETag",
            description="the published data version (weak); send it as If-None-Match",
            documentation_only=True,  # set by service.versions.headers, here only documented (a value gives a type)
            value='W/"0123456789abcdef0123"',
        ),
        ResponseHeader(name="Cache-Control", description=CACHE_CONTROL, documentation_only=True, value=CACHE_CONTROL),
    ],
}
NOT_MODIFIED = {
    304: ResponseSpec(
        data_container=None, description="Not modified: If-None-Match names the current publication (no body)"
    )
}
SCORE_OBJECT = "json_build_object(" + ", ".join(f"'{c}', s.{c}" for c in Score.__struct_fields__) + ")"
INSPECTION = (
    f"SELECT convert_to({SCORE_OBJECT}::text, 'UTF8') FROM {SCHEMA}.inspection_scores s WHERE inspection_id = $1"
)


@get(
    "/v1/inspections/{inspection_id:str}/score",
    tags=["scores"],
    responses=NOT_MODIFIED,
    **VERSIONED,
)
async def inspection_score(request: Request, database: Database, inspection_id: str) -> Response[Score]:
    """The score of one inspection."""
    body = await _document(request, database, INSPECTION, _whole(inspection_id, "inspection_id"))
    if body is None:
        raise NotFoundException(f"no score for inspection {inspection_id}")
    return _json(body)


ESTABLISHMENT = f"""
SELECT convert_to(json_build_object(
    'license', s.license, 'establishment', s.establishment, 'facility_type', s.facility_type,
    'current', {SCORE_OBJECT}, 'inspections_scored', s.inspections_scored,
    'history', COALESCE((SELECT json_agg(h) FROM (
        SELECT {", ".join(f"p.{name}" for name in Past.__struct_fields__)}
        FROM {SCHEMA}.inspection_scores p WHERE p.license = s.license
        ORDER BY p.inspection_date DESC, p.inspection_id DESC LIMIT {HISTORY}) h), '[]'::json)
)::text, 'UTF8')
FROM {SCHEMA}.establishment_risk s WHERE s.license = $1"""


@get(
    "/v1/establishments/{license:str}",
    tags=["scores"],
    responses=NOT_MODIFIED,
    **VERSIONED,
)
async def establishment(request: Request, database: Database, license: str) -> Response[Establishment]:
    """An establishment's current risk and its score history (newest first, at most 100), by business license."""
    number = _whole(license, "license")
    if number == 0:
        raise ValidationException("license 0 means 'no license' in the City's data; look those places up by inspection")
    body = await _document(request, database, ESTABLISHMENT, number)
    if body is None:
        raise NotFoundException(f"no establishment with license {number}")
    return _json(body)


WEEK = f"""
WITH page AS (
    SELECT *, row_number() OVER (ORDER BY rank) AS n FROM {SCHEMA}.inspection_scores
    WHERE week = $1 AND ($2::text IS NULL OR facility_type = $2) AND score >= $3 AND rank > $4
    ORDER BY rank LIMIT $5 + 1)
SELECT {VERSION} AS version,
       EXISTS (SELECT 1 FROM {SCHEMA}.inspection_scores WHERE week = $1) AS known,
       (SELECT convert_to(COALESCE(json_agg({SCORE_OBJECT} ORDER BY s.rank), '[]')::text, 'UTF8')
        FROM page s WHERE s.n <= $5) AS items,
       (SELECT max(rank) FROM page WHERE n <= $5) AS last,
       (SELECT count(*) FROM page) > $5 AS more"""


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
    day = _week(week)
    after, facility_type = _cursor(cursor, day), _text(facility_type, "facility_type")
    row = await _read(request, database, WEEK, day, facility_type, min_score, after, limit)
    if not row["known"]:  # type: ignore[index]
        raise NotFoundException(f"no scores for the week of {day}")
    following = _next_cursor(day, row["last"]) if row["more"] else None  # type: ignore[index]
    return _json(
        b'{"week":"%s","items":%s,"next_cursor":%s}'
        % (day.isoformat().encode(), row["items"], msgspec.json.encode(following))  # type: ignore[index]
    )


EXPORT = f"SELECT {SCORE_COLUMNS} FROM {SCHEMA}.inspection_scores WHERE week = $1 ORDER BY rank"
EXPORT_CHUNK = 64 * 1024
EXPORT_BATCH = 5_000  # rows per Parquet row group
ARROW_TYPES = {
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "smallint": pa.int16(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "instant": pa.timestamp("us", tz="UTC"),
    "text": pa.string(),
    "json": pa.string(),
}
EXPORT_SCHEMA = pa.schema(
    [pa.field(c.name, ARROW_TYPES[c.kind], nullable=c.nullable) for c in INSPECTION_SCORES.columns]
)


class PublicationChangedError(RuntimeError):
    """A publication landed between an export's headers and its rows: the download is cut, the client retries."""


async def _export(
    request: Request,
    database: Database,
    week: str,
    media_type: str,
    rows: Callable[[asyncpg.Connection, date], AsyncIterator[bytes]],
) -> Stream:
    """A week's rows, read in one snapshot and sent as PostgreSQL hands them over, under that snapshot's ETag."""
    day = _week(week)
    row = await _read(
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


def _csv_rows(connection: asyncpg.Connection, day: date) -> AsyncIterator[bytes]:
    return db.csv(connection, EXPORT, day, chunk=EXPORT_CHUNK)


# One row per row group, each column an array (ranks 1..n within a week): Arrow takes the columns whole, no
# row-by-row transposition in Python.
GROUP = f"(rank - 1) / {EXPORT_BATCH}"
EXPORT_GROUPS = f"""SELECT {", ".join(f"array_agg({name} ORDER BY rank) AS {name}" for name in Score.__struct_fields__)}
    FROM {SCHEMA}.inspection_scores WHERE week = $1 GROUP BY {GROUP} ORDER BY {GROUP}"""


async def _parquet_rows(connection: asyncpg.Connection, day: date) -> AsyncIterator[bytes]:
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


EXPORTED = {"response_headers": VERSIONED["response_headers"]}


@get(
    "/v1/weeks/{week:str}/scores.csv",
    tags=["exports"],
    media_type="text/csv",
    responses=NOT_MODIFIED,
    **EXPORTED,
)
async def week_scores_csv(request: Request, database: Database, week: str) -> Stream:
    """A whole week's scores, riskiest first, as CSV with a header line (columns as in `Score`), streamed."""
    return await _export(request, database, week, "text/csv", _csv_rows)


@get(
    "/v1/weeks/{week:str}/scores.parquet",
    tags=["exports"],
    media_type=PARQUET,
    responses=NOT_MODIFIED,
    **EXPORTED,
)
async def week_scores_parquet(request: Request, database: Database, week: str) -> Stream:
    """A whole week's scores, riskiest first, as a Parquet file (typed columns as in `Score`), streamed."""
    return await _export(request, database, week, PARQUET, _parquet_rows)


CURRENT = f"""
SELECT {VERSION} AS version, m.*, (
    SELECT json_agg(g ORDER BY g.group_size DESC) FROM (
        SELECT facility_type, group_size, fpr, fdr, fpr_disparity, fdr_disparity, fpr_parity, fdr_parity
        FROM {SCHEMA}.fairness_audit f WHERE f.model_version = m.model_version) g)::text AS fairness
FROM {SCHEMA}.current_model m LIMIT 1"""


@get("/v1/models/current", tags=["models"], responses=NOT_MODIFIED, **VERSIONED)
async def current_model(request: Request, database: Database) -> Model:
    """The model behind the scores: version, windows, holdout metrics, fairness by facility type."""
    row = await _read(request, database, CURRENT)
    if row is None:
        raise NotFoundException("no model published yet")
    metrics = {
        name: {k: v for k, v in values.items() if isinstance(v, float | int)}
        for name, values in json.loads(row["metrics"]).items()
    }
    return Model(
        model_version=row["model_version"],
        name=row["name"],
        selected_by=row["metric"],
        refit=row["refit"],
        training_from=row["first_week"],
        holdout_from=row["cutoff"],
        holdout_to=row["holdout_end"],
        train_rows=row["train_rows"],
        holdout_rows=row["holdout_rows"],
        metrics=metrics,
        features=json.loads(row["features"]),
        fairness=[Group(**g) for g in json.loads(row["fairness"] or "[]")],
        published_at=row["published_at"],
        selected_because=row["selected_because"],
        backtest=json.loads(row["backtest"] or "[]"),
        ranking=json.loads(row["ranking"]) if row["ranking"] else None,
    )


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
            DOCS_FILES,
        ],
        dependencies={"database": Provide(provide, use_cache=True, sync_to_thread=False)},
        exception_handlers={UnavailableError: _unavailable, HTTPException: _http, Exception: _unexpected},
        before_send=[headers],
        middleware=middleware,
        stores={"response_cache": store},
        response_cache_config=cache_config(cached),
        state=State({"publication": publication}),
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
