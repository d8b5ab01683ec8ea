"""The published data's version, and what it buys: ETags, 304 revalidation and a response cache that is never stale.

A version is the model version plus the write count of every table the API reads (`food.publications`, bumped in
the same transaction as each write, see resources/publications.py). Each data query reads the version in the same
statement (one snapshot) as its answer, so an answer's ETag always names the data in its body.

- `revalidate` (ASGI middleware, in front of the route handler): the version, read at most once a second, is the
  request's *hint*; `If-None-Match` with the hint gets `304`, no body, no query.
- Litestar's response cache keys answers by the hint; an answer is stored only when the version its query read is
  the hint (`cacheable`). When the hint changes the whole cache is dropped, so a client never gets an answer of an
  older publication than the one the process last saw, and never one part old, one part new.
"""

import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec
from litestar import Request
from litestar.config.response_cache import ResponseCacheConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.stores.memory import MemoryStore

from chicago_food_assets.core.declarations.contracts import SCHEMA
from service.db import Database, UnavailableError

if TYPE_CHECKING:
    from litestar.types import ASGIApp, HTTPResponseStartEvent, HTTPScope, Message, Receive, Scope, Send

SERVED = (  # every table an answer reads: names and addresses come from clean_inspections, why not listed from the
    # register (establishments)
    "inspection_scores",
    "establishment_risk",
    "current_model",
    "fairness_audit",
    "visit_list",
    "list_evaluation",
    "inspection_plan",
    "plan_evaluation",
    "clean_inspections",
    "establishments",
)
VERSION_SECONDS = 1.0  # how long a process trusts the publication it last read
CACHE_CONTROL = "public, max-age=60, must-revalidate"  # weekly data: a minute, then revalidate with the ETag
CACHE_ENTRIES = 20_000  # answers kept per process (a lookup is 1-30 KB): the store is dropped whole beyond that
TABLES = "'{" + ",".join(SERVED) + "}'::text[]"
# One scalar expression: NULL while no model or no publications are recorded (then answers carry no ETag).
VERSION = f"""((SELECT model_version FROM {SCHEMA}.current_model LIMIT 1) || '|' ||
    (SELECT string_agg(table_name || ':' || version, ',' ORDER BY table_name)
     FROM {SCHEMA}.publications WHERE table_name = ANY({TABLES})))"""
UNVERSIONED = "NULL::text"


def etag(version: str | None) -> str | None:
    return f'W/"{hashlib.sha256(version.encode()).hexdigest()[:20]}"' if version else None


class BoundedStore(MemoryStore):
    """Litestar's memory store with a ceiling: past `entries`, expired answers go, then (if still full) all."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        super().__init__()
        self.entries = entries

    async def set(self, key: str, value: str | bytes, expires_in: object = None) -> None:
        if len(self._store) >= self.entries:
            await self.delete_expired()
            if len(self._store) >= self.entries:
                await self.delete_all()
        await super().set(key, value, expires_in)  # type: ignore[arg-type]

    def peek(self, key: str) -> bytes | None:
        """`get` without the store's lock (one event loop reads and writes this dict) or expiry renewal."""
        stored = self._store.get(key)
        return None if stored is None or stored.expired else stored.data


class Publication:
    """The version this process last saw, read at most once a second; a change drops the response cache."""

    def __init__(self, database: Database, store: BoundedStore) -> None:
        self.database, self.store = database, store
        self.etag: str | None = None
        self.read_at = -VERSION_SECONDS
        self.tables = True  # False while no publications table exists (tables written by an older version)

    async def current(self) -> str | None:
        now = time.monotonic()
        if now - self.read_at >= VERSION_SECONDS:
            self.read_at = now  # one read at a time: requests arriving meanwhile keep the version of <= 1 s ago
            try:
                version = await self.database.value(f"SELECT {VERSION}")
                self.tables = True
            except UnavailableError:  # no publications table yet, or an outage the route then answers with 503:
                version, self.tables = None, False  # either way no ETag, and data queries do not read the version
            await self.observe(etag(None if version is None else str(version)))
        return self.etag

    async def observe(self, seen: str | None) -> None:
        """A version read (by the poll or by a data query): a new one drops every cached answer."""
        if seen != self.etag:
            self.etag = seen
            await self.store.delete_all()


def state(scope: "Scope") -> dict:
    return scope.setdefault("state", {})


def revalidate(publication: Publication, cached: bool) -> "Callable[[ASGIApp], ASGIApp]":
    """Middleware: data routes get the hint; a client already holding it gets 304 with no body and no data query;
    an answer in the response cache is sent from here, past the rest of the stack (with Litestar's own lookup alone,
    cached answers ran at 48% of a bare route's rate, 66% from here, 108% with `peek`: docs/performance.md)."""

    def middleware(app: "ASGIApp") -> "ASGIApp":
        async def handle(scope: "Scope", receive: "Receive", send: "Send") -> None:
            if scope["type"] == "http" and scope.get("method") == "GET" and scope["path"].startswith("/v1/"):
                hint = await publication.current()
                state(scope).update(hint=hint, etag=hint, versioned=publication.tables)
                if hint and matches(header(scope, b"if-none-match"), hint):
                    headers: list[tuple[bytes, bytes]] = [
                        (b"etag", hint.encode()),
                        (b"cache-control", CACHE_CONTROL.encode()),
                    ]
                    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": 304, "headers": headers}
                    await send(start)
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                if hint and cached and (stored := publication.store.peek(key(scope))):
                    for message in msgspec.msgpack.decode(stored):
                        await send(message)
                    return
            await app(scope, receive, send)

        return handle

    return middleware


async def tag(request: Request, publication: Publication, version: str | None) -> None:
    """The answer was read at `version`: its ETag; cached only if that is the version its cache key names."""
    read = etag(version)
    scope = state(request.scope)
    scope["etag"] = read
    scope["cacheable"] = read is not None and read == scope.get("hint")
    if read is not None and read != scope.get("hint"):
        await publication.observe(read)


def versioned(query: str, request: Request) -> str:
    """The query with its `version` column reading the publications, when they exist."""
    return query if state(request.scope).get("versioned", True) else query.replace(VERSION, UNVERSIONED)


def header(scope: "Scope", name: bytes) -> str | None:
    """A request header straight from the ASGI scope (no Request object on the hot path)."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def encoding(scope: "Scope") -> str:
    """The compression an answer gets (Litestar caches it compressed): part of the key."""
    accepted = header(scope, b"accept-encoding") or ""
    return "br" if "br" in accepted else "gzip" if "gzip" in accepted else ""


def key(scope: "Scope") -> str:
    """An answer's cache key: the version, the compression, the path and the query string as sent (no parsing:
    another order is another key)."""
    query = scope["query_string"].decode("latin-1")
    return f"{state(scope).get('hint')}|{encoding(scope)}|{scope['path']}?{query}"


def cache_config(enabled: bool, expiration: int = 600) -> ResponseCacheConfig:
    def keep(scope: "HTTPScope", status: int) -> bool:
        return enabled and status == 200 and bool(state(scope).get("cacheable"))

    return ResponseCacheConfig(
        default_expiration=expiration, key_builder=lambda request: key(request.scope), cache_response_filter=keep
    )


async def headers(message: "Message", scope: "Scope") -> None:
    """before_send: a data route's 200 carries the version it was read at, and Cache-Control."""
    read = scope.get("state", {}).get("etag")
    if message["type"] == "http.response.start" and message["status"] == 200 and read:
        mutable = MutableScopeHeaders.from_message(message)
        mutable["ETag"] = read
        mutable["Cache-Control"] = CACHE_CONTROL


def matches(header: str | None, current: str) -> bool:
    """If-None-Match against our weak ETag (weak comparison, as RFC 9110 asks for If-None-Match)."""
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or current.removeprefix("W/") in tags
