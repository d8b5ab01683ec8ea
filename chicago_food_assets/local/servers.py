"""The long-running commands a state folder started (`./run ui|api|dashboard|dagster`), so `./run stop` stops them.

Each runs in a process group of its own, recorded in `<state>/servers/` with its start time (a pid the system reused
is never taken for it). A SIGTERM, SIGINT or SIGHUP to the launcher is passed on to that group; a group that does
not stop within a few seconds is killed. `./run stop` stops every recorded group before the database they use, so
nothing is left retrying a database stopped on purpose.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from chicago_food_assets.instance.processes import started_at

PATIENCE = 10.0  # seconds a group has to stop on SIGTERM before it is killed


def _folder(state: Path) -> Path:
    return state / "servers"


def _running(pgid: int) -> bool:
    """A process of the group still runs (zombies, dead but not yet reaped, do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: the group exists
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def stop_group(pid: int, first: int = signal.SIGTERM, patience: float = PATIENCE) -> None:
    """Signal the process group led by `pid`, then kill what is left of it after `patience` seconds."""
    for sig, wait in ((first, patience), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + wait
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _running(pid):
            return


def run(name: str, command: list[str], env: dict[str, str], cwd: Path | None = None) -> int:
    """`command` in the foreground, in a group of its own recorded under the state folder; stopping the launcher
    (Ctrl-C, SIGTERM, SIGHUP, `./run stop`) stops the group."""
    state = Path(env["CHICAGO_FOOD_STATE_DIR"])
    asked: list[int] = []  # a stop that came before the command started
    started: list[subprocess.Popen] = []

    def forward(signum: int, _frame: object) -> None:
        asked.append(signum)
        for process in started:
            stop_group(process.pid, signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    # Handlers first: a signal the launcher catches is reset to its default in the command (exec), while one it
    # inherited as ignored (nohup, a CI runner) would stay ignored there and the command could not be stopped.
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    record = _folder(state) / "unstarted"
    try:
        process = subprocess.Popen(command, env=env, cwd=cwd, start_new_session=True)
        started.append(process)
        record = _folder(state) / f"{name}-{process.pid}.json"
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"name": name, "pid": process.pid, "started": started_at(process.pid)}))
        if asked:  # stopped while it was starting
            forward(asked[-1], None)
        while True:
            try:
                code = process.wait()
                break
            except InterruptedError:
                continue
        stop_group(process.pid, patience=2.0)  # what the command itself left behind in its group
        return 0 if code in (-signal.SIGINT, -signal.SIGTERM, 130, 143) else code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        record.unlink(missing_ok=True)


def stop_all(state: Path) -> list[str]:
    """Stop every recorded group of the state folder (its own start time checked); names what was stopped."""
    stopped = []
    folder = _folder(state)
    for record in sorted(folder.glob("*.json")) if folder.exists() else []:
        try:
            entry = json.loads(record.read_text())
        except (OSError, ValueError):
            record.unlink(missing_ok=True)
            continue
        pid, started = int(entry["pid"]), entry.get("started")
        if _running(pid) and (started is None or started_at(pid) in (None, started)):
            stop_group(pid)
            stopped.append(str(entry["name"]))
        record.unlink(missing_ok=True)
    return stopped
