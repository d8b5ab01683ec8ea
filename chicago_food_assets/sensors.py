"""Sensors: refresh exactly the weeks whose rows changed on the portal, and keep the lookups in step.

The Socrata sensor polls two aggregate queries on `:updated_at` (Socrata's last-change stamp), so new rows,
late-arriving rows for old weeks and corrections of existing rows all show up, at the cost of two small requests.
Its cursor is JSON: the newest `:updated_at` seen, and weeks that changed but are not partitions yet (the current
week, until it ends). Contiguous changed weeks become one single-run backfill of the weekly job.
"""

import json
from datetime import date

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_status_sensor,
    sensor,
)

from chicago_food_assets.jobs import lookup_job, weekly_job
from chicago_food_assets.partitions import week_of, weekly
from chicago_food_assets.resources.socrata import SocrataError, SocrataResource

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def runs_for(weeks: list[str]) -> list[tuple[str, str]]:
    """Contiguous runs of weeks as (first, last) partition keys."""
    ranges: list[list[str]] = []
    for week in sorted(set(weeks)):
        if ranges and (date.fromisoformat(week) - date.fromisoformat(ranges[-1][1])).days == 7:
            ranges[-1][1] = week
        else:
            ranges.append([week, week])
    return [(first, last) for first, last in ranges]


@sensor(job=weekly_job, minimum_interval_seconds=300, description=__doc__, default_status=DefaultSensorStatus.RUNNING)
def socrata_changes(context: SensorEvaluationContext, socrata: SocrataResource) -> SensorResult | SkipReason:
    state = json.loads(context.cursor) if context.cursor else {"updated_at": None, "pending": []}
    try:
        changes = socrata.changes_since(state["updated_at"])
    except SocrataError as error:  # an outage: try again next tick, cursor untouched
        return SkipReason(f"Socrata unavailable, will retry on the next tick: {error}")
    if state["updated_at"] is None:
        state["updated_at"] = changes.updated_at
        return SensorResult(
            skip_reason=SkipReason(
                f"cursor initialised at :updated_at {changes.updated_at}; backfill history from the UI or CLI"
            ),
            cursor=json.dumps(state),
        )
    changed = sorted({str(week_of(date.fromisoformat(d))) for d in changes.dates} | set(state["pending"]))
    existing = set(weekly.get_partition_keys())
    ready = [w for w in changed if w in existing]
    pending = [w for w in changed if w not in existing and w >= weekly.get_first_partition_key()]
    state = {"updated_at": changes.updated_at or state["updated_at"], "pending": pending}
    if not ready:
        reason = (
            f"{changes.rows} rows changed, only in weeks that are not complete yet: {pending}"
            if pending
            else (f"no rows changed since :updated_at {state['updated_at']}")
        )
        return SensorResult(skip_reason=SkipReason(reason), cursor=json.dumps(state))
    requests = [
        RunRequest(run_key=f"{state['updated_at']}:{first}:{last}", tags={RANGE_START: first, RANGE_END: last})
        for first, last in runs_for(ready)
    ]
    context.log.info(f"{changes.rows} rows changed: refreshing weeks {ready}")
    return SensorResult(run_requests=requests, cursor=json.dumps(state))


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[weekly_job],
    request_job=lookup_job,
    default_status=DefaultSensorStatus.RUNNING,
    description="After weekly scores change, rebuild the latest score per establishment for the service.",
)
def lookups_follow_scores(context) -> RunRequest:
    return RunRequest(run_key=f"after-{context.dagster_run.run_id}")
