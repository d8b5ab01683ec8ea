"""What `./run demo|ui|api|dashboard|dagster|shell|env|stop` do once the virtualenv exists.

Every command runs in `environment.environment()`: the same state folder, embedded PostgreSQL and replay server.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

from chicago_food_assets.core.contracts import SCHEMA
from chicago_food_assets.local import environment
from chicago_food_assets.local.environment import PROJECT
from chicago_food_assets.partitions import FIRST_WEEK, week_of, weekly

WORKSPACE = PROJECT / "workspace.yaml"
BAR = 24


def data_weeks(path: Path) -> tuple[str, str]:
    """The first and last complete week (Mondays) of the inspection dates in a data file."""
    import pandas as pd
    import pyarrow as pa
    from pyarrow import json as pa_json

    only_dates = pa_json.ParseOptions(
        explicit_schema=pa.schema([("inspection_date", pa.string())]), unexpected_field_behavior="ignore"
    )
    try:  # Arrow reads just the one field of JSON lines, in C++ (a 300,000-row file in about a second)
        values = pa_json.read_json(path, parse_options=only_dates).column("inspection_date").to_pandas()
    except pa.ArrowInvalid:  # another accepted kind, a cut line, a date sent as a number: read it the slow way
        from chicago_food_assets.local.replay.files import DataFileError, load

        try:
            days = load(path).days()
        except DataFileError as error:
            raise SystemExit(str(error)) from error
        if days is None:
            raise SystemExit(f"{path}: no row has a readable inspection_date") from None
        return weeks_of(*days)
    # an unreadable date is the cleaner's business (a reject), not the demo's range
    days = pd.to_datetime(values.str[:10], format="%Y-%m-%d", errors="coerce").dropna()
    if days.empty:
        raise SystemExit(f"{path}: no row has a readable inspection_date")
    return weeks_of(str(days.min().date()), str(days.max().date()))


def weeks_of(first_day: str, last_day: str) -> tuple[str, str]:
    """The first and last complete week (Mondays) holding inspections from `first_day` to `last_day`."""
    complete = date.fromisoformat(weekly.get_last_partition_key())  # the week under way is not a partition yet
    first = max(week_of(date.fromisoformat(first_day)), date.fromisoformat(FIRST_WEEK))
    last = min(week_of(date.fromisoformat(last_day)), complete)
    if last < first:
        raise SystemExit(f"no complete week of inspections yet (the first is {first})")
    return str(first), str(last)


def _stage_plan(stage: "Stage") -> tuple[list[str], int, list[str]]:  # noqa: F821
    """The stage's asset keys, its number of steps and its tables (what the demo's progress line counts)."""
    from chicago_food_assets.definitions import defs, keys

    graph = defs.resolve_asset_graph()
    selected = keys(stage.selection)
    steps = {defs.resolve_assets_def(key).node_def.name for key in selected}
    tables = [key.path[-1] for key in selected if graph.get(key).io_manager_key == "table_io_manager"]
    return [key.to_user_string() for key in selected], len(steps), tables


def _progress(name: str, done: int, steps: int, weeks: int | None, started: float, end: str = "\r") -> None:
    filled = BAR * done // max(steps, 1)
    span = f"{weeks} weeks" if weeks else "all weeks"
    seconds = time.monotonic() - started
    line = f"  {name:<38} [{'#' * filled}{'.' * (BAR - filled)}] {done}/{steps} steps, {span}, {seconds:5.1f} s"
    print(line, end=end, file=sys.stderr if end == "\r" else sys.stdout, flush=True)


def run_stage(
    stage: "Stage",  # noqa: F821
    env: dict[str, str],
    log: Path,
    weeks: tuple[str, str] | None,
    configs: list[Path],
    verbose: bool,
) -> int:
    """One `dagster asset materialize` run of a stage; its log appended to `log` unless verbose."""
    keys, steps, _ = _stage_plan(stage)
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "chicago_food_assets.definitions"]
    command += ["--select", ",".join(keys)]
    if weeks:
        command += ["--partition-range", f"{weeks[0]}...{weeks[1]}"]
    for config in configs:
        command += ["-c", str(config)]
    started = time.monotonic()
    count = (date.fromisoformat(weeks[1]) - date.fromisoformat(weeks[0])).days // 7 + 1 if weeks else None
    if verbose:
        return subprocess.run(command, env=env, cwd=PROJECT).returncode
    with log.open("a") as out:
        out.write(f"\n===== {stage.name}: {' '.join(command)}\n")
        out.flush()
        offset = log.stat().st_size
        process = subprocess.Popen(command, env=env, cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT)
        done = 0
        while process.poll() is None:
            time.sleep(0.25)
            with log.open("rb") as handle:
                handle.seek(offset)
                done = handle.read().count(b"STEP_SUCCESS")
            if sys.stderr.isatty():
                _progress(stage.name, min(done, steps), steps, count, started)
    _progress(stage.name, steps if process.returncode == 0 else done, steps, count, started, end="")
    return process.returncode


def demo(
    data: str | None,
    first: str | None,
    last: str | None,
    train_config: str | None = None,
    verbose: bool = False,
) -> int:
    from chicago_food_assets.jobs import STAGES

    env = environment.environment(data)
    os.environ.update(env)
    state = Path(env["CHICAGO_FOOD_STATE_DIR"])
    source = environment.data_file(state)
    replay = environment.replay_record(state) or {}
    for line in replay.get("described", [])[1:]:  # names mapped, lines left out
        print(line)
    if first and last:
        data_first, data_last = first, last
    elif replay.get("days"):
        data_first, data_last = weeks_of(*replay["days"])
    else:
        data_first, data_last = data_weeks(source)
    weeks = (first or data_first, last or data_last)
    logs = state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"demo-{datetime.now():%Y%m%d-%H%M%S}.log"
    print(f"weeks {weeks[0]}...{weeks[1]} of {source.name}; each stage is one run")
    if not verbose:
        print(f"Dagster's full log: {log}")
    for stage in STAGES:
        stage_configs = [Path(train_config).resolve()] if train_config and stage.trains else []
        code = run_stage(stage, env, log, weeks if stage.weekly else None, stage_configs, verbose)
        print(f"  {_rows(stage, weeks if stage.weekly else None)}" if code == 0 else "")
        if code:
            print(f"the '{stage.name}' run failed (exit {code}){_failure()}")
            print(f"see {log} or open the run in the Dagster UI: ./run ui")
            return code
        for warning in _failed_checks():
            print(f"    warning: {warning}")
    print(summary(env))
    return 0


def _rows(stage: "Stage", weeks: tuple[str, str] | None) -> str:  # noqa: F821
    """Rows now in the stage's tables (within the weeks for a weekly stage)."""
    import psycopg2

    _, _, tables = _stage_plan(stage)
    counts = []
    with psycopg2.connect(os.environ["CHICAGO_FOOD_POSTGRES_URL"]) as connection, connection.cursor() as cursor:
        for table in tables:
            where = " WHERE week BETWEEN %s AND %s" if weeks else ""
            cursor.execute(f"SELECT count(*) FROM {SCHEMA}.{table}{where}", weeks or ())
            counts.append(f"{table} {cursor.fetchone()[0]:,}")
    return "rows: " + ", ".join(counts)


def _failure() -> str:
    """Why the latest run failed, as `: <the error's first line>` (empty when the instance cannot say)."""
    from dagster import DagsterEventType, DagsterInstance

    try:
        with DagsterInstance.get() as instance:
            runs = instance.get_runs(limit=1)
            if not runs:
                return ""
            records = instance.get_records_for_run(runs[0].run_id, of_type=DagsterEventType.STEP_FAILURE).records
    except Exception:  # the database itself may be what failed
        return ""
    for record in records:
        error = record.event_log_entry.dagster_event.event_specific_data.error
        while error is not None and error.cause is not None and "Error occurred while" in error.message:
            error = error.cause  # Dagster's wrapper ("Error occurred while executing op ...") names no reason
        if error is not None:
            return f": {error.message.strip().splitlines()[0][:400]}"
    return ""


def _failed_checks() -> list[str]:
    """Check results of the latest run that did not pass, as one line each."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.get() as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return []
        records = instance.get_records_for_run(runs[0].run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
        lines = []
        for record in records:
            evaluation = record.event_log_entry.dagster_event.event_specific_data
            if not evaluation.passed:
                details = ", ".join(
                    f"{name} {entry.value}"
                    for name, entry in evaluation.metadata.items()
                    if isinstance(entry.value, int | float | str) and len(str(entry.value)) < 40
                )[:160]
                lines.append(
                    f"check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} did not pass "
                    f"({evaluation.severity.value.lower()}){': ' + details if details else ''}"
                )
        return lines


def summary(env: dict[str, str]) -> str:
    """Where everything is, and the published model (read from `food.current_model`, whatever the storage)."""
    import psycopg2

    with psycopg2.connect(env["CHICAGO_FOOD_POSTGRES_URL"]) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT model_version, name, cutoff, holdout_end, metrics FROM {SCHEMA}.current_model LIMIT 1")
        model = cursor.fetchone()
    lines = ["", "done."]
    if model:
        version, name, start, end, metrics = model
        metrics = metrics if isinstance(metrics, dict) else json.loads(metrics)
        chosen = metrics[name]
        lines.append(
            f"selected model {version}: holdout {start}..{end} ROC AUC {chosen['roc_auc']:.3f}, fails found "
            f"{chosen['days_earlier']:.1f} days earlier (baseline previous result: "
            f"AUC {metrics['baseline_previous_result']['roc_auc']:.3f})"
        )
    state = env["CHICAGO_FOOD_STATE_DIR"]
    lines += [
        f"tables: PostgreSQL schema `food`; run history and metadata: database `dagster`; all state in {state}",
        "open the Dagster UI on it: ./run ui   (then http://127.0.0.1:3000)",
        "serve the score API: ./run api    (then http://127.0.0.1:8000/v1/models/current, docs at /schema)",
        "open the monitoring dashboard: ./run dashboard   (then http://127.0.0.1:5006/dashboard)",
        "stop the embedded PostgreSQL and the replay server: ./run stop",
    ]
    return "\n".join(lines)


def _foreground(command: list[str], env: dict[str, str], cwd: Path | None = None) -> int:
    """A long-running command in the foreground; Ctrl-C stops it cleanly."""
    try:
        return subprocess.run(command, env=env, cwd=cwd).returncode
    except KeyboardInterrupt:
        return 0


def ui(host: str, port: int) -> int:
    env = environment.environment()
    print(f"Dagster UI: http://{host}:{port}")
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(WORKSPACE), "-h", host, "-p", str(port)]
    return _foreground(command, env, cwd=PROJECT)


def reader_url(variable: str) -> str:
    """The read-only role's URL: `variable` when set, else the role created (or updated) on the pipeline's database."""
    from service.db import ensure_reader

    if os.environ.get(variable):
        return os.environ[variable]
    admin = environment.environment(quiet=True, replay=False)["CHICAGO_FOOD_POSTGRES_URL"]
    return ensure_reader(admin, os.environ.get("CHICAGO_FOOD_READER_PASSWORD"))


def dashboard_command(host: str, port: int) -> list[str]:
    app = PROJECT / "service" / "dashboard.py"
    return [
        sys.executable,
        "-m",
        "panel",
        "serve",
        str(app),
        "--address",
        host,
        "--port",
        str(port),
        f"--allow-websocket-origin={host}:{port}",
    ]


def api(host: str, port: int) -> int:
    """Serve the score API as the read-only role."""
    reader = reader_url("CHICAGO_FOOD_API_DATABASE_URL")
    env = {
        **os.environ,
        "CHICAGO_FOOD_API_DATABASE_URL": reader,
        "CHICAGO_FOOD_API_HOST": host,
        "CHICAGO_FOOD_API_PORT": str(port),
    }
    print(f"score API: http://{host}:{port}  (OpenAPI: http://{host}:{port}/schema)")
    return _foreground([sys.executable, "-m", "service"], env)


def dashboard(host: str, port: int) -> int:
    """Serve the Panel monitoring dashboard as the read-only role."""
    env = {**os.environ, "CHICAGO_FOOD_DASHBOARD_DATABASE_URL": reader_url("CHICAGO_FOOD_DASHBOARD_DATABASE_URL")}
    print(f"dashboard: http://{host}:{port}/dashboard")
    return _foreground(dashboard_command(host, port), env)


def main() -> int:
    parser = argparse.ArgumentParser(prog="./run")
    commands = parser.add_subparsers(dest="command", required=True)
    run_demo = commands.add_parser("demo", help="the whole pipeline over a Socrata-shaped file, offline")
    run_demo.add_argument("--data", help="JSON-lines file of Socrata rows (.gz or not); default: the bundled sample")
    run_demo.add_argument("--first", help="first week (a Monday, YYYY-MM-DD); default: the data's first")
    run_demo.add_argument("--last", help="last week; default: the data's last")
    run_demo.add_argument("--train-config", help="YAML run config for the training assets (see docs/model.md)")
    run_demo.add_argument("--verbose", action="store_true", help="print Dagster's full log instead of progress")
    run_ui = commands.add_parser("ui", help="start the Dagster UI")
    run_ui.add_argument("--host", default="127.0.0.1")
    run_ui.add_argument("--port", type=int, default=3000)
    run_api = commands.add_parser("api", help="serve the score API (read-only role)")
    run_api.add_argument("--host", default=os.environ.get("CHICAGO_FOOD_API_HOST", "127.0.0.1"))
    run_api.add_argument("--port", type=int, default=int(os.environ.get("CHICAGO_FOOD_API_PORT", "8000")))
    run_dashboard = commands.add_parser("dashboard", help="serve the monitoring dashboard (read-only role)")
    run_dashboard.add_argument("--host", default="127.0.0.1")
    run_dashboard.add_argument("--port", type=int, default=5006)
    run_dagster = commands.add_parser("dagster", help="a dagster command in the project's environment")
    run_dagster.add_argument("arguments", nargs=argparse.REMAINDER)
    commands.add_parser("shell", help="a shell in the project's environment")
    commands.add_parser("env", help='print the environment as `export` lines: eval "$(./run env)"')
    commands.add_parser("stop", help="stop the embedded PostgreSQL and the replay server")
    run_docs = commands.add_parser("docs", help="write the measured results into docs/ (after ./run demo and bench)")
    run_docs.add_argument("--out", help="where the pages go (default: docs/ itself)")
    args = parser.parse_args()
    if args.command == "demo":
        return demo(args.data, args.first, args.last, args.train_config, args.verbose)
    if args.command == "ui":
        return ui(args.host, args.port)
    if args.command == "api":
        return api(args.host, args.port)
    if args.command == "dashboard":
        return dashboard(args.host, args.port)
    if args.command == "dagster":
        env = environment.environment(quiet=True)
        return _foreground([sys.executable, "-m", "dagster", *args.arguments], env, cwd=PROJECT)
    if args.command == "shell":
        env = environment.environment()
        print("a shell in the project's environment; `exit` leaves it", file=sys.stderr)
        return _foreground([os.environ.get("SHELL", "/bin/bash")], env)
    if args.command == "docs":
        env = environment.environment(quiet=True, replay=False)
        command = [sys.executable, "-m", "benchmarks.docs", *(["--out", args.out] if args.out else [])]
        return subprocess.run(command, env=env, cwd=PROJECT).returncode
    if args.command == "env":
        print(environment.exports(environment.environment(quiet=True)))
        return 0
    from chicago_food_assets.local.embedded import state_dir

    stopped = environment.stop(Path(os.environ.get("CHICAGO_FOOD_STATE_DIR") or state_dir()))
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
