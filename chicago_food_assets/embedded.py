"""The zero-setup PostgreSQL: a real PostgreSQL 16 from the `pgserver` wheel, data under the local state folder."""

import os
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DATABASES = ("chicago_food", "dagster")


def state_dir() -> Path:
    """Where local deployments keep their data: CHICAGO_FOOD_STATE_DIR, else `.state` in the project folder."""
    return Path(os.environ.get("CHICAGO_FOOD_STATE_DIR") or Path(__file__).resolve().parent.parent / ".state").resolve()


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def start_embedded_postgres(directory: Path, databases: tuple[str, ...] = DATABASES) -> str:
    """Start (or reuse) the server in `directory`; returns the URL of its `postgres` database.

    The server outlives this process so the UI, the API and the dashboard can share it; `./run stop` stops it.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver  # heavy import, only where the embedded server is used

        server = pgserver.get_server(directory, cleanup_mode=None)
    existing = set(server.psql("SELECT datname FROM pg_database;").split())
    for database in databases:
        if database not in existing:
            server.psql(f"CREATE DATABASE {database};")
            # Dagster writes one event per commit: without waiting for each fsync a backfill's thousands of events
            # are cheap; a crash loses at most the last moment of events and never corrupts anything.
            server.psql(f"ALTER DATABASE {database} SET synchronous_commit = off;")
    return server.get_uri()


def stop_embedded_postgres(directory: Path, timeout: float = 30.0) -> bool:
    """Stop the server in `directory` if one runs there (fast shutdown); True when one was stopped."""
    import signal
    import time

    pid_file = directory / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return True
