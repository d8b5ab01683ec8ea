"""The one environment every local command runs in: `./run ui`, `./run demo`, `./run dagster ...`, `./run shell`.

All state lives under one folder (CHICAGO_FOOD_STATE_DIR, default `.state`): the embedded PostgreSQL, the object
store, Dagster's home and artifacts, the replay server's record and the logs. Servers are started here, by the
launcher, never inside a run: the resources only read URLs from the environment.

Offline by default: unless SOCRATA_DOMAIN is set, a local SODA server replays a data file (the bundled sample,
or the file the last `./run demo --data FILE` used) in a process of its own that outlives the command, so a shell
given `eval "$(./run env)"` reaches the same server. `./run stop` stops it and the embedded PostgreSQL.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from chicago_food_assets.data import SAMPLE_PATH, state_dir
from chicago_food_assets.instance.processes import alive
from chicago_food_assets.local.embedded import (
    embedded_directory,
    start_embedded_postgres,
    stop_embedded_postgres,
    with_database,
)

PROJECT = Path(__file__).resolve().parents[2]
# What this module may set; `./run env` prints exactly these.
VARIABLES = (
    "CHICAGO_FOOD_STATE_DIR",
    "DAGSTER_HOME",
    "DAGSTER_ARTIFACTS_DIR",
    "DAGSTER_POSTGRES_URL",
    "CHICAGO_FOOD_POSTGRES_URL",
    "SOCRATA_DOMAIN",
    "SOCRATA_SCHEME",
    "DAGSTER_EVENT_BATCH_SIZE",
)
# Dagster's opt-in event batching: a range run's per-week materializations of one output go to the event log in one
# INSERT instead of one each (about 5 times fewer seconds of bookkeeping per week; docs/performance.md).
EVENT_BATCH_SIZE = "1000"


def _record(state: Path) -> Path:
    return state / "replay.json"


def data_file(state: Path, data: str | Path | None = None) -> Path:
    """The file this state folder is built from: `data` when given, else the one remembered (`remember`)."""
    if data is not None:
        path = Path(data).resolve()
        if not path.is_file():
            raise SystemExit(f"no such data file: {data}")
        return path
    source = state / "source.json"
    if source.exists():
        return Path(json.loads(source.read_text())["data"])
    return SAMPLE_PATH


def remember(state: Path, data: Path) -> None:
    """The file later commands replay: remembered only once its replay server has started on it."""
    (state / "source.json").write_text(json.dumps({"data": str(data)}))


def replay_record(state: Path) -> dict | None:
    """What the running replay server serves: pid, domain, data file, rows, first and last day, what was read."""
    record = _record(state)
    return json.loads(record.read_text()) if record.exists() else None


def start_replay(state: Path, data: Path) -> dict:
    """The replay server for `data` (its record), reusing the running one when it serves that file.

    A new server is started before the old one is stopped: a file the server refuses (one line saying why, from
    `replay.files`) leaves the running server and the state folder as they were.
    """
    running = replay_record(state)
    if running and running["data"] == str(data) and alive(running["pid"]):
        return running
    state.mkdir(parents=True, exist_ok=True)
    log = state / "replay.log"
    command = [sys.executable, "-m", "chicago_food_assets.local.replay", "--data", str(data), "--port", "0", "--json"]
    with log.open("a") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, start_new_session=True)
    line = process.stdout.readline() if process.stdout else ""
    try:
        announced = json.loads(line)
    except ValueError:
        announced = {"error": f"the replay server did not start; see {log}"}
    if "error" in announced:
        process.kill()
        process.wait()
        raise SystemExit(announced["error"])
    if running:
        stop_replay(state)
    record = {"pid": process.pid, "data": str(data), **announced}
    _record(state).write_text(json.dumps(record))
    return record


def stop_replay(state: Path) -> bool:
    """Stop the replay server (a process group of its own: `start_new_session`); True when one ran."""
    from chicago_food_assets.local.servers import stop_group

    record = _record(state)
    if not record.exists():
        return False
    pid = json.loads(record.read_text())["pid"]
    record.unlink()
    if not alive(pid):
        return False
    stop_group(pid, patience=5.0)
    return True


def dagster_home(state: Path) -> Path:
    """Dagster's home under the state folder, holding a link to the project's dagster.yaml."""
    home = state / "dagster-home"
    home.mkdir(parents=True, exist_ok=True)
    link = home / "dagster.yaml"
    if not link.exists():
        link.symlink_to(PROJECT / "dagster.yaml")
    return home


def environment(data: str | Path | None = None, quiet: bool = False, replay: bool = True) -> dict[str, str]:
    """os.environ plus what Dagster and the resources need; variables already set are kept as given.

    `replay=False`: no Socrata replay server (the score API and the dashboard read only the tables)."""
    env = dict(os.environ)
    state = Path(env.get("CHICAGO_FOOD_STATE_DIR") or state_dir()).resolve()
    created = not state.exists()
    try:
        _prepare(env, state, data, replay)
    except BaseException:
        # a refused file (or a server that would not start) in a folder this call made: nothing left behind
        if created:
            discard(state)
        raise
    if not quiet:
        print(describe(env), file=sys.stderr)
    return env


def _prepare(env: dict[str, str], state: Path, data: str | Path | None, replay: bool) -> None:
    """The variables of `environment`, set in `env`; the file to replay is read (and refused) before any server
    starts, so a refused file starts nothing."""
    env["CHICAGO_FOOD_STATE_DIR"] = str(state)
    if env.get("SOCRATA_DOMAIN") or not replay:
        if data is not None and env.get("SOCRATA_DOMAIN"):
            raise SystemExit("--data replays a file locally; unset SOCRATA_DOMAIN to use it")
    else:
        path = data_file(state, data)
        env.update(SOCRATA_DOMAIN=start_replay(state, path)["domain"], SOCRATA_SCHEME="http")
        if data is not None:
            remember(state, path)
    env.setdefault("DAGSTER_HOME", str(dagster_home(state)))
    env.setdefault("DAGSTER_ARTIFACTS_DIR", str(state / "dagster"))
    env.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)
    started = set()
    if not env.get("DAGSTER_POSTGRES_URL") or not env.get("CHICAGO_FOOD_POSTGRES_URL"):
        server = start_embedded_postgres(state / "postgres")
        started.add(state / "postgres")
        env.setdefault("DAGSTER_POSTGRES_URL", with_database(server, "dagster"))
        env.setdefault("CHICAGO_FOOD_POSTGRES_URL", with_database(server, "chicago_food"))
    # URLs already set (a shell that ran `eval "$(./run env)"`) may name an embedded server that has since stopped
    # or crashed: every command makes sure it is up again
    for directory in {embedded_directory(env[name]) for name in ("DAGSTER_POSTGRES_URL", "CHICAGO_FOOD_POSTGRES_URL")}:
        if directory is not None and directory.resolve() not in started:
            start_embedded_postgres(directory)


def describe(env: dict[str, str]) -> str:
    """One line per part, for the user (no passwords: the embedded server has none)."""
    state = Path(env["CHICAGO_FOOD_STATE_DIR"])
    lines = [f"state folder: {state}"]
    replay = replay_record(state)
    if "SOCRATA_DOMAIN" not in env:
        pass  # a command that reads only the tables
    elif replay and replay["domain"] == env["SOCRATA_DOMAIN"]:
        lines.append(f"Socrata replay of {replay['data']} ({replay['rows']} rows) at http://{replay['domain']}")
    else:
        lines.append(f"Socrata: {env.get('SOCRATA_SCHEME', 'https')}://{env['SOCRATA_DOMAIN']}")
    return "\n".join(lines)


def exports(env: dict[str, str]) -> str:
    """`export NAME=value` lines a POSIX shell can eval, the project's virtualenv first on the PATH."""
    lines = [f"export {name}={shlex.quote(env[name])}" for name in VARIABLES if env.get(name)]
    return "\n".join([*lines, f'export PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"'])


def stop(state: Path) -> list[str]:
    """Stop what the launcher started in `state` (the servers first, then what they use); names what was stopped."""
    from chicago_food_assets.local import servers

    stopped = servers.stop_all(state)
    if stop_replay(state):
        stopped.append("replay server")
    if stop_embedded_postgres(state / "postgres"):
        stopped.append("embedded PostgreSQL")
    return stopped


def discard(state: Path) -> None:
    """A state folder a command made and could not use: what it started stopped, the folder removed."""
    if state.exists():
        stop(state)
        shutil.rmtree(state, ignore_errors=True)
