"""`./run demo`: the whole pipeline over a data file, one `dagster asset materialize` run per stage, with a quiet
progress line per stage, the checks that did not pass, and where everything is."""

import dataclasses
import os
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from chicago_food_assets.assets.partitions import FIRST_WEEK, week_of, weekly
from chicago_food_assets.core.declarations.contracts import SCHEMA
from chicago_food_assets.local import environment, summary

if TYPE_CHECKING:
    from dagster import DagsterInstance, Definitions

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
    days = days[days <= pd.Timestamp.now().normalize()]  # a future-dated row is a reject, not the demo's last week
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
    span = f"{weeks} week{'s' if weeks != 1 else ''}" if weeks else "all weeks"
    seconds = time.monotonic() - started
    line = f"  {name:<38} [{'#' * filled}{'.' * (BAR - filled)}] {done}/{steps} steps, {span}, {seconds:5.1f} s"
    print(line, end=end, file=sys.__stderr__ if end == "\r" else sys.stdout, flush=True)


def materialized(
    keys: list[str],
    instance: "DagsterInstance",
    run_config: dict,
    tags: dict[str, str],
    definitions: "Definitions | None" = None,
) -> bool:
    """Materialize `keys` in this process, as Dagster's `materialize` does, without keeping every step's output in
    memory until the run ends: `materialize` (through `execute_in_process`) captures each output so that its result
    can hand them back, which held a whole stage's frames at once (the raw rows, the clean tables and the features of
    every week). The outputs are in the IO managers' storage; nothing here reads them back. No public switch turns
    the capture off, so this calls what `execute_in_process` calls, Dagster's internal `core_execute_in_process`
    (Dagster's version is locked; test_instance fails if the capture comes back or the call breaks).
    Whether the run succeeded. `definitions`: the project's unless given."""
    from dagster import Definitions, define_asset_job
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.definitions.materialize import EPHEMERAL_JOB_NAME
    from dagster._core.execution.execute_in_process import core_execute_in_process

    from chicago_food_assets.definitions import defs

    project = definitions or defs
    job = Definitions(  # the job `materialize` builds, under its name
        jobs=[define_asset_job(name=EPHEMERAL_JOB_NAME, selection=keys)],
        assets=project.assets,
        resources=project.resources,
    ).resolve_job_def(EPHEMERAL_JOB_NAME)
    result = core_execute_in_process(  # what `job.execute_in_process` calls, with the capture off
        run_config=run_config,
        job=InMemoryJob(job_def=job.as_ephemeral_job(resource_defs={}, input_values={})),
        instance=instance,
        output_capturing_enabled=False,
        raise_on_error=False,
        run_tags={**job.run_tags, **tags},
    )
    return result.success


def run_stage(
    stage: "Stage",  # noqa: F821
    env: dict[str, str],
    log: Path,
    weeks: tuple[str, str] | None,
    configs: list[Path],
    verbose: bool,
) -> int:
    """One run of a stage in this process (as `dagster asset materialize` would run it: in process, recorded in the
    instance, so the UI shows it), its Dagster log appended to `log` unless verbose. In one process, the
    definitions and the instance are loaded once for all the stages, not once per stage."""
    import contextlib
    import threading

    import yaml
    from dagster import DagsterInstance

    keys, steps, _ = _stage_plan(stage)
    run_config: dict = {}
    for config in configs:
        run_config.update(yaml.safe_load(config.read_text()) or {})
    tags = (
        {"dagster/asset_partition_range_start": weeks[0], "dagster/asset_partition_range_end": weeks[1]}
        if weeks
        else {}
    )
    count = (date.fromisoformat(weeks[1]) - date.fromisoformat(weeks[0])).days // 7 + 1 if weeks else None
    started = time.monotonic()

    def run() -> bool:
        with DagsterInstance.get() as instance:
            return materialized(keys, instance, run_config, tags)

    if verbose:
        return 0 if run() else 1
    with log.open("a") as out:
        out.write(f"\n===== {stage.name}: materialize {','.join(keys)}{f' {weeks[0]}...{weeks[1]}' if weeks else ''}\n")
        out.flush()
        offset = log.stat().st_size
        finished = threading.Event()

        def progress() -> None:  # the run's own log, read from the side: how many steps are done
            while not finished.wait(0.25):
                with log.open("rb") as handle:
                    handle.seek(offset)
                    done = handle.read().count(b"STEP_SUCCESS")
                _progress(stage.name, min(done, steps), steps, count, started)

        watcher = threading.Thread(target=progress, daemon=True)
        if sys.__stderr__ is not None and sys.__stderr__.isatty():
            watcher.start()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                succeeded = run()
        except Exception as error:  # a resource that cannot start, a definitions error: the run could not begin
            out.write(f"{type(error).__name__}: {error}\n")
            succeeded = False
        finally:
            finished.set()
        with log.open("rb") as handle:
            handle.seek(offset)
            done = handle.read().count(b"STEP_SUCCESS")
    _progress(stage.name, steps if succeeded else done, steps, count, started, end="")
    return 0 if succeeded else 1


def demo(
    data: str | None,
    first: str | None,
    last: str | None,
    train_config: str | None = None,
    verbose: bool = False,
) -> int:
    from chicago_food_assets.automation.jobs import STAGES
    from chicago_food_assets.data import state_dir

    new_state = not state_dir().exists()  # a demo that fails in a folder it made removes the folder
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
        spans = stage.ranges(*weeks, *published(env["CHICAGO_FOOD_POSTGRES_URL"]))
        for span in spans:
            # a stage of several runs names each by its weeks (the holdout's lists, then the next week's)
            named = (
                dataclasses.replace(stage, name=f"{stage.name}, {span[0]}..{span[1]}")
                if span and len(spans) > 1
                else stage
            )
            code = run_stage(named, env, log, span, stage_configs, verbose)
            print(f"  {_rows(named, span)}" if code == 0 else "")
            if code:
                print(f"the '{named.name}' run failed (exit {code}){_failure()}")
                if new_state:
                    return _remove(state, log, code)
                print(f"see {log} or open the run in the Dagster UI: ./run ui")
                return code
            for warning in _failed_checks():
                print(f"    warning: {warning}")
    print(summary.summary(env))
    return 0


def _remove(state: Path, log: Path, code: int) -> int:
    """After a failed first demo in a state folder: its servers stopped, the folder removed, the log kept apart."""
    import shutil
    import tempfile

    kept = Path(tempfile.mkdtemp(prefix="chicago-food-demo-")) / log.name
    shutil.copyfile(log, kept)
    environment.discard(state)
    print(f"nothing is left running and the state folder this demo made is removed; Dagster's log: {kept}")
    return code


def published(url: str) -> tuple[tuple[str, str] | None, str | None]:
    """The published model's holdout weeks [start, end) and the newest week of stored inspections (None: not yet)."""
    import psycopg2

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass(%s), to_regclass(%s)", (f"{SCHEMA}.current_model", f"{SCHEMA}.clean_inspections")
        )
        model, inspections = cursor.fetchone()
        holdout = newest = None
        if model is not None:
            try:
                cursor.execute(f"SELECT holdout_from, holdout_to FROM {SCHEMA}.current_model LIMIT 1")
            except psycopg2.errors.UndefinedColumn:  # written by an older version: the training stage rewrites it
                connection.rollback()
            else:
                row = cursor.fetchone()
                holdout = (str(row[0]), str(row[1])) if row else None
        if inspections is not None:
            cursor.execute(f"SELECT max(week) FROM {SCHEMA}.clean_inspections")
            row = cursor.fetchone()
            newest = str(row[0]) if row and row[0] is not None else None
    return holdout, newest


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
