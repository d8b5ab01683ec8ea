"""Database access for the service: a lazily created asyncpg pool, read-only queries, and the reader role.

The service connects as `chicago_food_reader`, a role that can only SELECT in schema `food` and whose transactions
are read-only. Every query is parameterised. A database outage surfaces as `UnavailableError` (HTTP 503); the pool is
dropped and rebuilt on the next request, so the service recovers by itself when the database returns.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psycopg2
import psycopg2.errors
from psycopg2 import sql

from chicago_food_assets.core.declarations.contracts import SCHEMA

READER = "chicago_food_reader"
OUTAGE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # "cannot switch to state": a pool terminated under a running request
    asyncpg.CannotConnectNowError,
    asyncpg.OperatorInterventionError,  # the server shutting down or restarting under a query
)
# Every connection the service opens is read-only with a statement timeout, whatever the role's defaults say
# (a role may change its own defaults: they are not a boundary).
SESSION = {
    "default_transaction_read_only": "on",
    "statement_timeout": "5000",
    "idle_in_transaction_session_timeout": "10000",
}


class UnavailableError(RuntimeError):
    """The database cannot be reached (or is starting up); `public` is what a client is told."""

    public = "database unavailable"


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Skip asyncpg's reset round trip on release: the read-only role changes no session state."""


class Database:
    def __init__(self, url: str, min_size: int = 2, max_size: int = 16, timeout: float = 5.0) -> None:
        self.url = url.replace("postgresql+psycopg2://", "postgresql://")
        self.min_size, self.max_size, self.timeout = min_size, max_size, timeout
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        # asyncpg's pool queue lets a releasing task take the connection back before woken waiters run, which
        # starves some requests (p99 in the hundreds of ms at 64 clients); a FIFO semaphore in front keeps it fair.
        self._turns = asyncio.Semaphore(max_size)

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    try:
                        # no per-query client timeout (it costs ~10% of a lookup in wait_for); the reader role has
                        # a server-side statement_timeout instead (ensure_reader)
                        self._pool = await asyncpg.create_pool(
                            self.url,
                            min_size=self.min_size,
                            max_size=self.max_size,
                            timeout=self.timeout,
                            reset=_keep_session,
                            server_settings=SESSION,
                        )
                    except OUTAGE as error:
                        raise UnavailableError(f"database unavailable: {error}") from error
        return self._pool

    async def _run(self, method: str, query: str, *args: object, **options: object) -> object:
        try:
            pool = await self.pool()
            async with self._turns, pool.acquire() as connection:  # the semaphore bounds waiting to our turn
                return await getattr(connection, method)(query, *args, **options)
        except OUTAGE as error:
            await self._reset()
            raise UnavailableError(f"database unavailable: {type(error).__name__}") from error
        except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError) as error:
            raise UnavailableError(
                f"the pipeline has not published this table (as this version reads it): {error}"
            ) from error

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        return await self._run("fetch", query, *args)  # type: ignore[return-value]

    async def fetchrow(self, query: str, *args: object) -> asyncpg.Record | None:
        return await self._run("fetchrow", query, *args)

    async def value(self, query: str, *args: object) -> object:
        """The first column of the first row, or None."""
        return await self._run("fetchval", query, *args)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection in a read-only REPEATABLE READ transaction: every statement in it sees the same data."""
        try:
            pool = await self.pool()
            async with (
                self._turns,
                pool.acquire() as connection,
                connection.transaction(isolation="repeatable_read", readonly=True),
            ):
                yield connection
        except OUTAGE as error:
            await self._reset()
            raise UnavailableError(f"database unavailable: {type(error).__name__}") from error

    async def _reset(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()

    async def close(self) -> None:
        """Close gracefully, but never hang a shutdown on a connection a dead server will not release."""
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), timeout=3)
            except (TimeoutError, *OUTAGE):
                pool.terminate()


def ensure_reader(
    admin_url: str, password: str | None = None, role: str = READER, private: tuple[str, ...] = ("dagster",)
) -> str:
    """Create (or update) the read-only role; returns the service's URL: the admin URL with the reader's login.

    `private` databases of the same server (Dagster's storage) are closed to every role but their owner and
    the admin: PostgreSQL lets any role connect to any database unless CONNECT is revoked from PUBLIC.

    Safe to run concurrently (`./run api` and `./run dashboard` started together): one transaction behind an
    advisory lock, so callers on one database take turns; callers on two databases of one server can still meet on
    the role's catalog rows (`tuple concurrently updated`), and the loser runs again.
    """
    url = admin_url.replace("postgresql+psycopg2://", "postgresql://")
    for attempt in range(ATTEMPTS):
        try:
            connection = psycopg2.connect(url)
            try:
                with connection, connection.cursor() as cursor:  # one transaction, committed on success
                    _grant_reader(cursor, password, role, private)
            finally:
                connection.close()
            break
        except (psycopg2.errors.InternalError_, psycopg2.errors.DuplicateObject, psycopg2.errors.UniqueViolation):
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return reader_url(admin_url, role, password)


ATTEMPTS = 5  # concurrent callers on different databases of one server


def _grant_reader(cursor: "psycopg2.extensions.cursor", password: str | None, role: str, private: tuple[str, ...]):
    """The reader's role, defaults and grants, in the caller's transaction."""
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext('chicago_food.ensure_reader'))")
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    if cursor.fetchone() is None:
        cursor.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    if password:
        cursor.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
    cursor.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(sql.Identifier(role)))
    cursor.execute(sql.SQL("ALTER ROLE {} SET statement_timeout = '5s'").format(sql.Identifier(role)))
    cursor.execute("SELECT current_database()")
    database = cursor.fetchone()[0]
    statements = (
        "GRANT CONNECT ON DATABASE {database} TO {role}",
        "CREATE SCHEMA IF NOT EXISTS {schema}",
        "GRANT USAGE ON SCHEMA {schema} TO {role}",
        "GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}",
        # tables the pipeline creates later (as this admin role) are readable too
        "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {role}",
    )
    for statement in statements:
        cursor.execute(
            sql.SQL(statement).format(
                database=sql.Identifier(database), role=sql.Identifier(role), schema=sql.Identifier(SCHEMA)
            )
        )
    cursor.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (list(private),))
    for (name,) in cursor.fetchall():
        for statement in (
            "REVOKE CONNECT ON DATABASE {db} FROM PUBLIC",
            "GRANT CONNECT ON DATABASE {db} TO CURRENT_USER",
        ):
            cursor.execute(sql.SQL(statement).format(db=sql.Identifier(name)))


def reader_url(admin_url: str, role: str = READER, password: str | None = None) -> str:
    parts = urlsplit(admin_url.replace("postgresql+psycopg2://", "postgresql://"))
    host = parts.netloc.rsplit("@", 1)[-1]
    login = f"{role}:{password}" if password else role
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))


async def csv(connection: asyncpg.Connection, query: str, *args: object, chunk: int) -> AsyncIterator[bytes]:
    """The query's rows as CSV with a header line, written by PostgreSQL (COPY ... TO STDOUT) and passed on in
    chunks of about `chunk` bytes as they arrive: a whole week is never held in memory."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=64)

    async def sink(data: bytes) -> None:
        await queue.put(bytes(data))

    async def copy() -> None:
        try:
            await connection.copy_from_query(query, *args, output=sink, format="csv", header=True)
        finally:
            await queue.put(None)

    task = asyncio.create_task(copy())
    buffer = bytearray()
    try:
        while (data := await queue.get()) is not None:
            buffer += data
            if len(buffer) >= chunk:
                yield bytes(buffer)
                buffer.clear()
        await task  # the COPY's own error, if it failed
        if buffer:
            yield bytes(buffer)
    finally:
        if not task.done():
            task.cancel()
