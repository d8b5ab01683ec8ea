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
import time
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import swagger_ui
from litestar import Litestar, MediaType, Request, Response, get
from litestar.config.compression import CompressionConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.params import Parameter
from litestar.response import Stream
from litestar.static_files import create_static_files_router

from chicago_food_assets.core.contracts import INSPECTION_SCORES, Contract
from service.db import Database, UnavailableError

if TYPE_CHECKING:
    from litestar.types import Message, Scope

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
    "json": str,
}


def struct(name: str, contract: Contract) -> type[msgspec.Struct]:
    """A response type with the contract's columns (core/contracts.py), so the API and the table never drift."""
    fields = [
        (c.name, PYTHON_TYPES[c.kind] if not c.nullable else PYTHON_TYPES[c.kind] | None) for c in contract.columns
    ]
    return msgspec.defstruct(name, fields, module=__name__)


# period: training (in-sample), holdout or prediction for the model that scored it; failed: the known outcome
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
        row = await database.fetchrow("SELECT model_version FROM food.current_model LIMIT 1")
    except UnavailableError as error:
        return Response({"status": "unavailable", "reason": error.public}, status_code=503, headers=RETRY_AFTER)
    if row is None:
        return Response({"status": "unavailable", "reason": "no model version published yet"}, status_code=503)
    return Response({"status": "ready", "model_version": row["model_version"]})


def _json(document: bytes) -> Response[bytes]:
    """A JSON document PostgreSQL already built (as UTF-8 bytes): passed through untouched."""
    return Response(document, media_type=MediaType.JSON)


SCORE_OBJECT = "json_build_object(" + ", ".join(f"'{c}', s.{c}" for c in Score.__struct_fields__) + ")"


@get(
    "/v1/inspections/{inspection_id:str}/score",
    tags=["scores"],
    responses={200: ResponseSpec(data_container=Score, description="the inspection's score")},
)
async def inspection_score(database: Database, inspection_id: str) -> Response[bytes]:
    """The score of one inspection."""
    body = await database.document(
        f"SELECT convert_to({SCORE_OBJECT}::text, 'UTF8') FROM food.inspection_scores s WHERE inspection_id = $1",
        _whole(inspection_id, "inspection_id"),
    )
    if body is None:
        raise NotFoundException(f"no score for inspection {inspection_id}")
    return _json(body)


ESTABLISHMENT = f"""
SELECT convert_to(json_build_object(
    'license', s.license, 'establishment', s.establishment, 'facility_type', s.facility_type,
    'current', {SCORE_OBJECT}, 'inspections_scored', s.inspections_scored,
    'history', COALESCE((SELECT json_agg(h) FROM (
        SELECT {", ".join(f"p.{name}" for name in Past.__struct_fields__)}
        FROM food.inspection_scores p WHERE p.license = s.license
        ORDER BY p.inspection_date DESC, p.inspection_id DESC LIMIT {HISTORY}) h), '[]'::json)
)::text, 'UTF8')
FROM food.establishment_risk s WHERE s.license = $1"""


@get(
    "/v1/establishments/{license:str}",
    tags=["scores"],
    responses={200: ResponseSpec(data_container=Establishment, description="current risk and score history")},
)
async def establishment(database: Database, license: str) -> Response[bytes]:
    """An establishment's current risk and its score history (newest first, at most 100), by business license."""
    number = _whole(license, "license")
    if number == 0:
        raise ValidationException("license 0 means 'no license' in the City's data; look those places up by inspection")
    body = await database.document(ESTABLISHMENT, number)
    if body is None:
        raise NotFoundException(f"no establishment with license {number}")
    return _json(body)


@get("/v1/weeks/{week:str}/scores", tags=["scores"])
async def week_scores(
    database: Database,
    week: str,
    facility_type: str | None = Parameter(default=None, max_length=100, description="only this facility type"),
    min_score: float = Parameter(default=0.0, ge=0.0, le=1.0, description="only scores at least this"),
    limit: int = Parameter(default=50, ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT}"),
    cursor: str | None = Parameter(default=None, max_length=64, description="next_cursor of the previous page"),
) -> WeekScores:
    """A week's inspections, riskiest first, with cursor paging."""
    day = _week(week)
    after, facility_type = _cursor(cursor, day), _text(facility_type, "facility_type")
    rows = await database.fetch(
        f"""SELECT {SCORE_COLUMNS} FROM food.inspection_scores
            WHERE week = $1 AND ($2::text IS NULL OR facility_type = $2) AND score >= $3 AND rank > $4
            ORDER BY rank LIMIT $5""",
        day,
        facility_type,
        min_score,
        after,
        limit + 1,
    )
    if (
        not rows
        and after == 0
        and await database.fetchrow("SELECT 1 FROM food.inspection_scores WHERE week = $1 LIMIT 1", day) is None
    ):
        raise NotFoundException(f"no scores for the week of {day}")
    page = rows[:limit]
    more = len(rows) > limit
    return WeekScores(
        week=day, items=[_score(r) for r in page], next_cursor=_next_cursor(day, page[-1]["rank"]) if more else None
    )


EXPORT = f"SELECT {SCORE_COLUMNS} FROM food.inspection_scores WHERE week = $1 ORDER BY rank"
EXPORT_CHUNK = 64 * 1024


async def _week_exists(database: Database, day: date) -> None:
    if await database.fetchrow("SELECT 1 FROM food.inspection_scores WHERE week = $1 LIMIT 1", day) is None:
        raise NotFoundException(f"no scores for the week of {day}")


def _download(data: bytes, media_type: str, name: str) -> Stream:
    """Sent in chunks, as a file to save."""
    chunks = (data[i : i + EXPORT_CHUNK] for i in range(0, len(data), EXPORT_CHUNK))
    return Stream(chunks, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@get(
    "/v1/weeks/{week:str}/scores.csv",
    tags=["exports"],
    responses={200: ResponseSpec(data_container=str, media_type="text/csv", description="the week's scores as CSV")},
)
async def week_scores_csv(database: Database, week: str) -> Stream:
    """A whole week's scores, riskiest first, as CSV with a header line (columns as in `Score`)."""
    day = _week(week)
    await _week_exists(database, day)
    return _download(
        await database.csv(EXPORT.replace("$1", f"'{day.isoformat()}'::date")), "text/csv", f"scores-{day}.csv"
    )


@get(
    "/v1/weeks/{week:str}/scores.parquet",
    tags=["exports"],
    responses={200: ResponseSpec(data_container=bytes, media_type=PARQUET, description="the week's scores")},
)
async def week_scores_parquet(database: Database, week: str) -> Stream:
    """A whole week's scores, riskiest first, as a Parquet file (typed columns as in `Score`)."""
    day = _week(week)
    await _week_exists(database, day)
    rows = await database.fetch(EXPORT, day)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in Score.__struct_fields__]
    table = pa.table({name: pa.array(values) for name, values in zip(Score.__struct_fields__, columns, strict=True)})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return _download(buffer.getvalue(), PARQUET, f"scores-{day}.parquet")


@get("/v1/models/current", tags=["models"])
async def current_model(database: Database) -> Model:
    """The model behind the scores: version, windows, holdout metrics, fairness by facility type."""
    row = await database.fetchrow("SELECT * FROM food.current_model LIMIT 1")
    if row is None:
        raise NotFoundException("no model published yet")
    groups = await database.fetch(
        """SELECT facility_type, group_size, fpr, fdr, fpr_disparity, fdr_disparity, fpr_parity, fdr_parity
           FROM food.fairness_audit WHERE model_version = $1 ORDER BY group_size DESC""",
        row["model_version"],
    )
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
        fairness=[Group(**dict(g)) for g in groups],
        published_at=row["published_at"],
    )


RETRY_AFTER = {"Retry-After": "5"}
log = logging.getLogger("service")

SERVED = ("inspection_scores", "establishment_risk", "current_model", "fairness_audit")
VERSION_SECONDS = 1.0  # how long a process trusts the publication it last read
CACHE_CONTROL = "public, max-age=60, must-revalidate"  # weekly data: a minute, then revalidate with the ETag
PUBLICATION = """
SELECT (SELECT model_version FROM food.current_model LIMIT 1) AS model_version,
       (SELECT string_agg(table_name || ':' || version, ',' ORDER BY table_name)
        FROM food.publications WHERE table_name = ANY($1::text[])) AS versions"""


class Publication:
    """The published data's version: the model version plus the write count of every table the API reads
    (`food.publications`, bumped in the same transaction as each write). Read at most once a second and before
    the data, so a response is never labelled with a newer version than its body."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.etag: str | None = None
        self.read_at = -VERSION_SECONDS

    async def current(self) -> str | None:
        now = time.monotonic()
        if now - self.read_at >= VERSION_SECONDS:
            try:
                row = await self.database.fetchrow(PUBLICATION, list(SERVED))
            except UnavailableError:  # no publications table yet (tables written by an older version), or an
                row = None  # outage, which the route itself then answers with 503: either way no ETag
            versions = f"{row['model_version']}|{row['versions']}" if row and row["versions"] else None
            self.etag = f'W/"{hashlib.sha256(versions.encode()).hexdigest()[:20]}"' if versions else None
            self.read_at = now
        return self.etag


async def _versioned(message: "Message", scope: "Scope") -> None:
    """A data route's 200 carries the version it was read at (set before the handler ran) and Cache-Control."""
    etag = scope.get("state", {}).get("etag")
    if message["type"] == "http.response.start" and message["status"] == 200 and etag:
        headers = MutableScopeHeaders.from_message(message)
        headers["ETag"] = etag
        headers["Cache-Control"] = CACHE_CONTROL


def _matches(header: str | None, etag: str) -> bool:
    """If-None-Match against our weak ETag (weak comparison, as RFC 9110 asks for If-None-Match)."""
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


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


def create_app(database_url: str | None = None) -> Litestar:
    database = Database(
        database_url or os.environ["CHICAGO_FOOD_API_DATABASE_URL"],
        max_size=int(os.environ.get("CHICAGO_FOOD_API_POOL_SIZE", "8")),
    )

    publication = Publication(database)

    def provide() -> Database:
        return database

    async def close() -> None:
        await database.close()

    async def revalidate(request: Request) -> Response | None:
        """Data routes: a client holding the current version gets 304, no body, no query for the data."""
        if request.method != "GET" or not request.url.path.startswith("/v1/"):
            return None
        etag = await publication.current()
        request.state.etag = etag
        if etag and _matches(request.headers.get("if-none-match"), etag):
            return Response(b"", status_code=304, headers={"ETag": etag, "Cache-Control": CACHE_CONTROL})
        return None

    limit = os.environ.get("CHICAGO_FOOD_API_RATE_LIMIT", "")  # e.g. "minute:600" per client address; off if unset
    middleware = []
    if limit and limit != "off":
        unit, count = limit.split(":")
        middleware.append(
            RateLimitConfig(rate_limit=(unit, int(count)), exclude=["/health", "/ready", "/schema"]).middleware
        )

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
        before_request=revalidate,
        before_send=[_versioned],
        middleware=middleware,
        compression_config=CompressionConfig(backend="gzip", minimum_size=1000, gzip_compress_level=5),
        on_shutdown=[close],
        openapi_config=OpenAPIConfig(
            title="Chicago food inspection risk", version="1.0.0", path="/schema", render_plugins=[DOCS]
        ),
        debug=False,
    )
