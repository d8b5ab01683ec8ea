"""`./run status`: the platform's health in one screen, from Dagster's instance and the tables.

The last run of each job, the last tick of each schedule and sensor, the weeks owed and given up, the newest data and
its age, the model in service, drift in the last weeks, and the checks whose latest evaluation failed. Each line is
`ok`, `info`, `warn` (a failed warning check) or `ATTENTION`; the exit code is 1 when any line needs attention (so it
can be cron'd or used as a probe), 0 otherwise. In production, run it where DAGSTER_HOME and
CHICAGO_FOOD_POSTGRES_URL point at the deployment:
    python -m chicago_food_assets.operations.status
"""

import json
import os
import shutil
import sys
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import psycopg2
from dagster import DagsterInstance, RunsFilter
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluation
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from chicago_food_assets.automation.sensors import FINISHED_BADLY, will_retry
from chicago_food_assets.core.declarations import targets
from chicago_food_assets.core.declarations.contracts import SCHEMA
from chicago_food_assets.core.models import scoring
from chicago_food_assets.operations import health

# newest inspection older than this many days: ATTENTION (the feed, or our pulls, stopped)
STALE_DAYS = float(os.environ.get("CHICAGO_FOOD_STALE_DAYS", "14"))
# the runs of assets materialized outside a named job: from the UI, and by `materialize` (./run demo)
ASSET_JOB, EPHEMERAL_JOB = "__ASSET_JOB", "__ephemeral_asset_job__"
OK, INFO, WARN, ATTENTION = "ok", "info", "warn", "ATTENTION"


@dataclass(frozen=True)
class Line:
    section: str
    level: str  # OK, INFO, WARN (a failed warning) or ATTENTION
    text: str


def _age(stamp: float | datetime) -> str:
    moment = stamp if isinstance(stamp, datetime) else datetime.fromtimestamp(stamp, UTC)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    seconds = (datetime.now(UTC) - moment).total_seconds()
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def runs(instance: DagsterInstance, jobs: list[str]) -> list[Line]:
    lines = []
    for job in jobs:
        names = (ASSET_JOB, EPHEMERAL_JOB) if job == ASSET_JOB else (job,)
        records = [r for name in names for r in instance.get_run_records(RunsFilter(job_name=name), limit=1)]
        label = "assets outside a job (the UI, ./run demo)" if job == ASSET_JOB else job
        if not records:
            lines.append(Line("runs", INFO, f"{label}: never run"))
            continue
        record = max(records, key=lambda r: r.create_timestamp)
        run = record.dagster_run
        when = record.end_time or record.start_time or record.create_timestamp.timestamp()
        failed = run.status in FINISHED_BADLY and not will_retry(run)
        weeks = health.weeks_of(run)
        span = f" weeks {weeks[0]}..{weeks[-1]}" if len(weeks) > 1 else (f" week {weeks[0]}" if weeks else "")
        text = f"{label}: last run {run.status.value.lower()} {_age(when)}{span} (run {run.run_id[:8]})"
        lines.append(Line("runs", ATTENTION if failed else OK, text))
    return lines


def ticks(instance: DagsterInstance) -> list[Line]:
    states = instance.all_instigator_state()
    if not states:
        return [Line("automation", INFO, "no schedule or sensor has ticked yet (the daemon: ./run ui starts it)")]
    lines = []
    for state in sorted(states, key=lambda s: s.name):
        last = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
        kind = state.instigator_type.value.lower()
        if not last:
            lines.append(Line("automation", INFO, f"{kind} {state.name}: {state.status.value.lower()}, no tick yet"))
            continue
        tick = last[0]
        failed = tick.status == TickStatus.FAILURE
        error = f": {tick.error.message.strip().splitlines()[0]}" if failed and tick.error else ""
        text = f"{kind} {state.name}: last tick {tick.status.value.lower()} {_age(tick.timestamp)}{error}"
        lines.append(Line("automation", ATTENTION if failed else OK, text))
    return lines


def weeks(instance: DagsterInstance) -> list[Line]:
    state = health.sensor_cursor(instance, health.SOCRATA_SENSOR)
    if state is None:
        return [Line("weeks", INFO, "the Socrata sensor has not ticked: no weeks owed")]
    given_up = health.given_up(state)
    owed = [week for week in health.owed(state) if week not in given_up]
    lines = [Line("weeks", OK if not owed else INFO, f"owed (being re-requested): {owed or 'none'}")]
    if given_up:
        text = f"given up after {health.MAX_ATTEMPTS} failed runs: {given_up} (docs/operations.md: re-run a week)"
        lines.append(Line("weeks", ATTENTION, text))
    else:
        lines.append(Line("weeks", OK, "given up: none"))
    if state.get("updated_at"):
        lines.append(Line("weeks", INFO, f"Socrata's newest :updated_at seen: {state['updated_at']}"))
    return lines


def tables(url: str) -> list[Line]:
    lines = []
    try:
        connection = psycopg2.connect(url, connect_timeout=5, options="-c timezone=UTC")
    except psycopg2.Error as error:
        return [Line("data", ATTENTION, f"cannot reach the tables' database: {str(error).strip()[:200]}")]
    with connection, connection.cursor() as cursor:

        def fetch(query: str) -> list[tuple] | None:
            """The query's rows, or None when its table does not exist yet."""
            try:
                cursor.execute(query)
                return cursor.fetchall()
            except psycopg2.errors.UndefinedTable:
                connection.rollback()
                return None

        def one(query: str) -> tuple | None:
            found = fetch(query)
            return found[0] if found else None

        newest = one(f"SELECT max(inspection_date), max(week), count(*) FROM {SCHEMA}.clean_inspections")
        if newest is None or newest[0] is None:
            lines.append(Line("data", ATTENTION, "no clean inspections stored: run ./run demo or a backfill"))
        else:
            days = (datetime.now(UTC).date() - newest[0]).days
            text = f"newest inspection {newest[0]} ({days:,} days old), newest week {newest[1]}, {newest[2]:,} rows"
            if days > STALE_DAYS:
                text += (
                    f": older than {STALE_DAYS:g} days (CHICAGO_FOOD_STALE_DAYS). To do: check that the Socrata sensor "
                    "ticks and its runs succeed (the lines above); on a demo's sample, this is expected"
                )
            lines.append(Line("data", ATTENTION if days > STALE_DAYS else INFO, text))
        model = one(
            "SELECT name, model_version, target, published_at, metrics, backtest, holdout_from"
            f" FROM {SCHEMA}.current_model ORDER BY published_at DESC LIMIT 1"
        )
        cutoff = None
        if model is None:
            lines.append(Line("model", ATTENTION, "no model in service: run the training job"))
        else:
            name, version, target, published, metrics, backtest, cutoff = model
            metrics = metrics if isinstance(metrics, dict) else json.loads(metrics)
            rows = backtest if isinstance(backtest, list) else json.loads(backtest or "[]")
            pooled = [r for r in rows if r.get("model") == name and r.get("cutoff") == "pooled"]
            auc = f", backtest ROC AUC {pooled[0]['roc_auc']:.3f}" if pooled else ""
            holdout = metrics.get(name, {}).get("roc_auc")
            what = targets.TARGETS[target].event if target in targets.TARGETS else target
            text = (
                f"{version}, predicting whether an inspection {what} (target {target}), published {_age(published)}"
                + (f", holdout ROC AUC {holdout:.3f}" if holdout is not None else "")
                + auc
            )
            lines.append(Line("model", OK, text))
        columns = ["week", "facility_type", "count", "psi"]
        # the drift check's own weeks (scoring.recent: the newest outside training) and rule (scoring.drifting);
        # only the weeks outside training are read
        after = f" WHERE week >= '{cutoff}'" if model is not None else ""
        stored = pd.DataFrame(
            fetch(f"SELECT {', '.join(columns)} FROM {SCHEMA}.score_monitoring{after}") or [], columns=columns
        )
        recent = scoring.recent(stored.astype({"week": "datetime64[ns]"}), None)
        if len(recent):
            over, groups = scoring.drifting(recent), scoring.sizeable(recent)
            worst = f"{groups['psi'].max():.2f}" if len(groups) else "n/a"
            text = (
                f"newest {recent['week'].nunique()} weeks outside training: {len(over)} group-weeks over PSI "
                f"{scoring.PSI_ALERT}"
            )
            text += f" (max {worst})" + (f": {', '.join(sorted(set(over['facility_type'])))}" if len(over) else "")
            lines.append(Line("drift", ATTENTION if len(over) else OK, text))
    connection.close()
    return lines


def checks(instance: DagsterInstance, keys: list) -> list[Line]:
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    failed = []
    for key, record in latest.items():
        if record is None or record.status != AssetCheckExecutionRecordStatus.FAILED:
            continue
        data = record.event.dagster_event.event_specific_data if record.event and record.event.dagster_event else None
        evaluation = data if isinstance(data, AssetCheckEvaluation) else None
        blocking = bool(getattr(evaluation, "blocking", False))
        # a late week or a stale source needs someone; drift is judged on the newest weeks below, and a warning is
        # a warning
        late = key.name in (health.FRESHNESS_CHECK, health.SOURCE_CHECK)
        text = health.explain(evaluation) if evaluation is not None else f"{key.to_user_string()} failed"
        failed.append(Line("checks", ATTENTION if blocking or late else WARN, text))
    evaluated = sum(record is not None for record in latest.values())
    return failed or [Line("checks", OK, f"the latest evaluation of all {evaluated} evaluated checks passed")]


def collect() -> list[Line]:
    from chicago_food_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    jobs = [*sorted(job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")), ASSET_JOB]
    with DagsterInstance.get() as instance:
        lines = runs(instance, jobs) + ticks(instance) + weeks(instance)
        lines += checks(instance, sorted(graph.asset_check_keys, key=lambda k: k.to_user_string()))
    url = os.environ.get("CHICAGO_FOOD_POSTGRES_URL", "")
    return lines + (tables(url) if url else [Line("data", ATTENTION, "CHICAGO_FOOD_POSTGRES_URL is not set")])


def main() -> int:
    lines = collect()
    width = max(len(line.section) for line in lines)
    columns = max(80, shutil.get_terminal_size((120, 24)).columns)
    for line in lines:  # whole lines, wrapped under their text (never cut)
        head = f"{line.level:<9} {line.section:<{width}}  "
        print(textwrap.fill(line.text, columns, initial_indent=head, subsequent_indent=" " * len(head)))
    attention = [line for line in lines if line.level == ATTENTION]
    print(f"\n{len(attention)} item(s) need attention" if attention else "\nhealthy: nothing needs attention")
    return 1 if attention else 0


if __name__ == "__main__":
    sys.exit(main())
