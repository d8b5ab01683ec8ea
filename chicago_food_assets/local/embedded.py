"""The zero-setup PostgreSQL: a real PostgreSQL 16 from the `pgserver` wheel, data under the local state folder."""

import os
import subprocess
import time
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from chicago_food_assets.instance.processes import alive

DATABASES = ("chicago_food", "dagster")


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def start_embedded_postgres(directory: Path, databases: tuple[str, ...] = DATABASES, timeout: float = 30.0) -> str:
    """Start (or reuse, or restart after a crash) the server in `directory`; returns its `postgres` database's URL.

    The server outlives this process so the UI, the API and the dashboard can share it; `./run stop` stops it.
    A server that crashed (its postmaster killed) is started again: pgserver takes the dead postmaster's pid file,
    when its process is a zombie not yet reaped, for a running server, so a stale file is removed first; the old
    server's last backends may hold its shared memory for a moment after, so starting is retried until `timeout`.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver  # heavy import, only where the embedded server is used

        deadline = time.monotonic() + timeout
        while True:
            _remove_stale_pid_file(directory)
            try:
                server = pgserver.get_server(directory, cleanup_mode=None)
                existing = set(server.psql("SELECT datname FROM pg_database;").split())
                break
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError):
                # a handle this process kept from before the crash, or a start the old backends still block
                pgserver.PostgresServer._instances.pop(directory.resolve(), None)
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    for database in databases:
        if database not in existing:
            server.psql(f"CREATE DATABASE {database};")
    # Every commit is durable. State folders made before this version set `synchronous_commit = off` (cheaper events):
    # a server killed less than a moment after a run started could come back without the run's STARTED status (seen
    # in test_instance's crash test), leaving a run the monitor does not fail.
    server.psql("".join(f"ALTER DATABASE {database} RESET synchronous_commit;" for database in databases))
    return server.get_uri()


def _remove_stale_pid_file(directory: Path) -> None:
    pid_file = directory / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if not alive(pid):
        pid_file.unlink(missing_ok=True)


def embedded_directory(url: str) -> Path | None:
    """The embedded server's folder a URL points at (its socket is in its data folder), else None."""
    host = parse_qs(urlsplit(url).query).get("host", [""])[0]
    return Path(host) if host and (Path(host) / "PG_VERSION").exists() else None


def stop_embedded_postgres(directory: Path, timeout: float = 30.0) -> bool:
    """Stop the server in `directory` if one runs there (fast shutdown); True when one was stopped."""
    import signal

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
