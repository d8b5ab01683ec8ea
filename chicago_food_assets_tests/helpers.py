"""Small helpers the tests share: talking to the replay server, picking real rows, a user's shell, files users have,
receivers of alerts (an SMTP server, a webhook), and a real Dagster daemon (its settings, starting it, launching a
run, waiting on it)."""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import requests

from chicago_food_assets.core.ingestion.raw import FIELDS
from chicago_food_assets.local.environment import PROJECT
from chicago_food_assets.local.replay import ReplayServer


def inject(server: ReplayServer, **fault: object) -> None:
    """Make the replay server misbehave on its next data requests (see replay.server.Fault)."""
    requests.post(f"http://{server.domain}/__replay/faults", json=fault, timeout=5).raise_for_status()


def request_log(server: ReplayServer) -> list[dict]:
    return requests.get(f"http://{server.domain}/__replay/requests", timeout=5).json()


def rows_between(rows: list[dict], first: str, end: str) -> list[dict]:
    """Rows with first <= inspection date < end (ISO dates)."""
    return [row for row in rows if first <= row["inspection_date"][:10] < end]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scaled(seconds: float) -> float:
    """A deadline that grows with the machine's load: a readiness probe returns as soon as the server answers, so a
    generous deadline costs nothing on a quiet machine and spares a false failure on a busy one (a dashboard's
    `panel serve` took over 60 s at a load average of 8 on two cores)."""
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    return seconds * min(max(1.0, 2 * load), 6.0)


def whole(page: Any, timeout_ms: int = 30_000) -> None:
    """Wait until a dashboard page is whole: the charts below its first are drawn once the page is in the browser
    (Panel's deferred load), each a loading placeholder (`.pn-loading`) until then."""
    from playwright.sync_api import expect

    expect(page.locator(".pn-loading")).to_have_count(0, timeout=timeout_ms)


def start_process(
    command: list[str], env: dict[str, str], port: int, path: str = "/", timeout: float = 120.0, cwd: object = None
):
    """Start a server process and wait until it answers HTTP on `port` (within `timeout`, scaled to the load)."""
    import subprocess
    import tempfile
    import time

    # stderr to a file, not a pipe: a server that logs a lot would block on a full pipe nobody reads
    log = tempfile.NamedTemporaryFile(prefix="cfa-server-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log, cwd=cwd)
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited: {Path(log.name).read_text()[-2000:]}")
        try:
            requests.get(f"http://127.0.0.1:{port}{path}", timeout=10)
            return process
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command} did not answer on port {port} within {timeout} s")


@contextmanager
def new_database(server_url: str) -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards; yields its URL."""
    import os

    import psycopg2

    from chicago_food_assets.local.embedded import with_database

    name = "cfa_db_" + os.urandom(4).hex()
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        yield with_database(server_url, name)
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def project_instance(monkeypatch, dagster_url: str, tmp_path) -> "DagsterInstance":  # noqa: F821
    """The Dagster instance the project's dagster.yaml describes, storing in `dagster_url`."""
    from pathlib import Path

    from dagster import DagsterInstance

    monkeypatch.setenv("DAGSTER_POSTGRES_URL", dagster_url)
    monkeypatch.setenv("DAGSTER_ARTIFACTS_DIR", str(tmp_path / "dagster"))
    return DagsterInstance.from_config(str(Path(__file__).resolve().parent.parent))


def user_environment(state: Path) -> dict[str, str]:
    """A shell as a new user has it: nothing of ours set but the state folder under test."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CHICAGO_FOOD_", "DAGSTER_", "SOCRATA_", "AWS_"))
    }
    env["CHICAGO_FOOD_STATE_DIR"] = str(state)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.startswith(str(PROJECT)))
    return env


@dataclass(frozen=True)
class Demo:
    """What `./run demo` left (conftest's `demo`): its state folder, stopped, and what it printed."""

    state: Path
    stdout: str


def copy_demo(demo: Demo, state: Path) -> None:
    """The demo's state folder as `state`, a test's own (`cp -a`: the embedded server's files keep their owner)."""
    subprocess.run(["cp", "-a", str(demo.state), str(state)], check=True)


def bash(script: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# The data portal's CSV export (Export > CSV on data.cityofchicago.org): its header names for the API's fields.
PORTAL_NAMES = {
    "inspection_id": "Inspection ID",
    "dba_name": "DBA Name",
    "aka_name": "AKA Name",
    "license_": "License #",
    "facility_type": "Facility Type",
    "risk": "Risk",
    "address": "Address",
    "city": "City",
    "state": "State",
    "zip": "Zip",
    "inspection_date": "Inspection Date",
    "inspection_type": "Inspection Type",
    "results": "Results",
    "violations": "Violations",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "location": "Location",
}


def portal_csv(lines: list[str], path: Path) -> Path:
    """The rows as the portal's CSV export writes them: its header names, MM/DD/YYYY dates, `(lat, lon)` locations,
    empty cells for absent fields, a byte-order mark."""
    frame = pd.DataFrame([json.loads(line) for line in lines]).reindex(columns=list(FIELDS)).astype("string")
    frame["inspection_date"] = pd.to_datetime(frame["inspection_date"].str[:10]).dt.strftime("%m/%d/%Y")
    frame["location"] = ("(" + frame["latitude"] + ", " + frame["longitude"] + ")").where(frame["latitude"].notna())
    frame.rename(columns=PORTAL_NAMES).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def serve_api(database_url: str, **settings: str):
    """The score API (`python -m service`) on a free port, reading `database_url`; the process and its base URL."""
    import sys

    port = free_port()
    env = {**os.environ, "CHICAGO_FOOD_API_DATABASE_URL": database_url, "CHICAGO_FOOD_API_PORT": str(port), **settings}
    process = start_process([sys.executable, "-m", "service"], env, port, "/health")
    return process, f"http://127.0.0.1:{port}"


def api_get(base: str, path: str, **params: object) -> requests.Response:
    return requests.get(base + path, params=params, timeout=10)


class Mailbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


class Receiver(ThreadingHTTPServer):
    """An HTTP receiver of webhook posts: `posts` the ones it accepted, `refused` the ones it answered with an error
    status (set `status` to make it refuse)."""

    def __init__(self, port: int) -> None:
        self.posts: list[dict] = []
        self.refused: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                (receiver.posts if receiver.status < 400 else receiver.refused).append(body)
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", port), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@contextmanager
def smtp_server() -> Iterator[tuple["Mailbox", int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1: its mailbox and port."""
    from aiosmtpd.controller import Controller

    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def wait(condition, seconds: float, what: str, log: Path | None = None):
    """Poll `condition` each second until it is true (its value is returned); after `seconds`, fail saying `what` did
    not happen, with the tail of `log` (a daemon's) when there is one. `seconds` grows with the machine's load."""
    seconds = scaled(seconds)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1)
    tail = f"\n{log.name}:\n{log.read_text(errors='replace')[-3000:]}" if log is not None and log.exists() else ""
    raise AssertionError(f"{what} within {seconds} s{tail}")


def daemon_settings(home: Path, dagster_url: str, tables_url: str, replay: ReplayServer, tmp_path: Path) -> dict:
    """The environment of a daemon on the project's instance in `home`, its storage and tables in these databases,
    Socrata at the replay server."""
    return {
        "DAGSTER_HOME": str(home),
        "DAGSTER_POSTGRES_URL": dagster_url,
        "DAGSTER_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "CHICAGO_FOOD_POSTGRES_URL": tables_url,
        "CHICAGO_FOOD_STATE_DIR": str(tmp_path / "state"),
        "SOCRATA_DOMAIN": replay.domain,
        "SOCRATA_SCHEME": "http",
    }


def start_daemon(log: Path) -> subprocess.Popen:
    """`dagster-daemon run` on the project's workspace, in a process group of its own (with its code server)."""
    return subprocess.Popen(
        [sys.executable, "-m", "dagster._daemon", "run", "-w", "workspace.yaml"],
        cwd=PROJECT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def launch(week: str) -> str:
    """`dagster job launch` of the ingest job for one week: queued on the instance, started by the daemon."""
    tags = json.dumps({"dagster/asset_partition_range_start": week, "dagster/asset_partition_range_end": week})
    run_id = str(uuid.uuid4())
    command = ["job", "launch", "-w", "workspace.yaml", "-j", "ingest", "--tags", tags, "--run-id", run_id]
    done = subprocess.run(
        [sys.executable, "-m", "dagster", *command],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return run_id


def exports_of(output: str) -> dict[str, str]:
    """`./run env`'s `export NAME=value` lines as a mapping (what `eval` would set)."""
    import shlex

    return {
        name: shlex.split(value)[0]
        for name, _, value in (line.removeprefix("export ").partition("=") for line in output.splitlines())
        if name != "PATH"
    }


def processes_of(state: Path) -> list[str]:
    """Running processes started for the state folder: its path in their environment or command line."""
    mark = str(state).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                continue
            seen = (entry / "environ").read_bytes() + (entry / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if mark in seen:
            found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200])
    return found
