"""The Socrata sensor: refresh exactly the weeks whose rows changed on the portal, until each has been refreshed.
What follows a refresh (the lookups, the register, the current list, the lists' judging) follows on its own
(conditions.py).

The Socrata sensor polls `:updated_at` (Socrata's last-change stamp): one aggregate query says whether anything
changed, then the changed rows' ids and dates are paged. New rows, late rows for old weeks and corrections all show
up. A correction that moves an inspection to another week refreshes both weeks: its new one, and the one it is
stored under (looked up in `clean_inspections`), so no stale copy stays behind.

Its cursor is JSON: the newest `:updated_at` seen; weeks that changed but are not partitions yet (the current week,
until it ends); the runs it launched and their weeks; and the weeks it still owes. A week is owed until a run of
it succeeds: a failed or crashed run puts its weeks back, re-requested on the next ticks up to MAX_ATTEMPTS times,
then kept as given up (listed on every tick, with when) until a later change re-requests it or a run by hand
refreshes it end to end.
"""

import json
import time
from datetime import date
from typing import Any

from dagster import (
    AssetRecordsFilter,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.storage.tags import WILL_RETRY_TAG

from chicago_food_assets.assets.partitions import FIRST_WEEK, week_of, weekly
from chicago_food_assets.assets.types import key_of
from chicago_food_assets.automation.jobs import weekly_job
from chicago_food_assets.core.declarations.contracts import CLEAN_INSPECTIONS, SCORE_MONITORING
from chicago_food_assets.resources.history import History
from chicago_food_assets.resources.postgres import PostgresResource
from chicago_food_assets.resources.socrata import SocrataError, SocrataResource

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
RUN_KEY = "dagster/run_key"
PARTITION = "dagster/partition"
MAX_ATTEMPTS = 3  # runs of one week before the sensor gives up on it (a person then looks at why)
FINISHED_BADLY = {DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def runs_for(weeks: list[str]) -> list[tuple[str, str]]:
    """Contiguous runs of weeks as (first, last) partition keys."""
    ranges: list[list[str]] = []
    for week in sorted(set(weeks)):
        if ranges and (date.fromisoformat(week) - date.fromisoformat(ranges[-1][1])).days == 7:
            ranges[-1][1] = week
        else:
            ranges.append([week, week])
    return [(first, last) for first, last in ranges]


def weeks_between(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [str(date.fromordinal(day)) for day in range(start.toordinal(), end.toordinal() + 1, 7)]


def will_retry(run: DagsterRun) -> bool:
    """A failed run that Dagster's run retries will launch again: the retry, not this run, has the last word."""
    return run.status == DagsterRunStatus.FAILURE and run.tags.get(WILL_RETRY_TAG) == "true"


def settle(context: SensorEvaluationContext, state: dict) -> None:
    """Runs launched earlier: a success pays its weeks; a failure or crash makes them owed again. A run that Dagster
    will retry is not settled: its retry keeps the run key and is the newest run under it, so a week is counted once
    per attempt of the sensor's, not once per retry of Dagster's."""
    for run_key, weeks in list(state["launched"].items()):
        runs = context.instance.get_runs(filters=RunsFilter(tags={RUN_KEY: run_key}), limit=1)
        if not runs or not runs[0].is_finished or will_retry(runs[0]):
            continue  # queued, running, not launched by the daemon yet, or about to be retried
        del state["launched"][run_key]
        for week in weeks:
            if runs[0].status in FINISHED_BADLY:
                state["owed"][week] = state["owed"].get(week, 0) + 1
                if state["owed"][week] >= MAX_ATTEMPTS:
                    state["given_up_at"].setdefault(week, time.time())
            else:
                state["owed"].pop(week, None)
                state["given_up_at"].pop(week, None)


END_OF_WEEK = key_of(SCORE_MONITORING)  # the last asset of a week's chain: written only when the rest was


def recovered(context: SensorEvaluationContext, state: dict) -> None:
    """Given-up weeks that a run by hand has since refreshed end to end (the week's `score_monitoring` written after
    the sensor gave up) are paid: no longer owed, no longer listed."""
    for week, since in list(state["given_up_at"].items()):
        found = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=END_OF_WEEK, asset_partitions=[week], after_timestamp=since), limit=1
        ).records
        if found:
            state["owed"].pop(week, None)
            del state["given_up_at"][week]


@sensor(job=weekly_job, minimum_interval_seconds=300, description=__doc__, default_status=DefaultSensorStatus.RUNNING)
def socrata_changes(
    context: SensorEvaluationContext, socrata: SocrataResource, postgres: PostgresResource
) -> SensorResult | SkipReason:
    state: dict[str, Any] = {"updated_at": None, "pending": [], "launched": {}, "owed": {}, "given_up_at": {}}
    state.update(json.loads(context.cursor) if context.cursor else {})
    settle(context, state)
    recovered(context, state)
    try:
        changes = socrata.changes_since(state["updated_at"])
    except SocrataError as error:  # an outage: try again next tick; what was settled is kept
        return SensorResult(
            skip_reason=SkipReason(f"Socrata unavailable, will retry on the next tick: {error}"),
            cursor=json.dumps(state),
        )
    if state["updated_at"] is None:
        state["updated_at"] = changes.updated_at
        return SensorResult(
            skip_reason=SkipReason(
                f"cursor initialised at :updated_at {changes.updated_at}; backfill history from the UI or CLI"
            ),
            cursor=json.dumps(state),
        )
    changed = {str(week_of(date.fromisoformat(d))) for d in changes.dates}
    ids = [int(i) for i, _ in changes.changed if i.isascii() and i.isdigit() and len(i) <= 18]
    moved_from = {str(w) for _, w in History(postgres).stored_weeks(CLEAN_INSPECTIONS, ids)} - changed
    existing = set(weekly.get_partition_keys())
    wanted = changed | moved_from | set(state["pending"])
    in_flight = {week for weeks in state["launched"].values() for week in weeks}
    due = {week for week, attempts in state["owed"].items() if attempts < MAX_ATTEMPTS and week not in in_flight}
    ready = sorted((wanted & existing) | due)
    state["pending"] = sorted(w for w in wanted if w not in existing and w >= FIRST_WEEK)
    state["updated_at"] = changes.updated_at or state["updated_at"]
    given_up = sorted(w for w, attempts in state["owed"].items() if attempts >= MAX_ATTEMPTS)
    if not ready:
        reasons = [f"{changes.rows} rows changed since the last tick" if changes.rows else "no rows changed"]
        if state["pending"]:
            reasons.append(f"weeks not complete yet: {state['pending']}")
        if given_up:
            reasons.append(f"given up after {MAX_ATTEMPTS} failed runs, owed until run by hand: {given_up}")
        return SensorResult(skip_reason=SkipReason("; ".join(reasons)), cursor=json.dumps(state))
    requests = []
    # ranges holding a week a row moved away from go first, so its stale copy is gone before the new one lands
    for first, last in sorted(runs_for(ready), key=lambda r: not moved_from & set(weeks_between(*r))):
        weeks = weeks_between(first, last)
        attempt = max(state["owed"].get(w, 0) for w in weeks)
        run_key = f"{state['updated_at']}:{first}:{last}:{attempt}"
        state["launched"][run_key] = weeks
        for week in weeks:
            state["owed"].setdefault(week, 0)
        requests.append(RunRequest(run_key=run_key, tags={RANGE_START: first, RANGE_END: last}))
    context.log.info(
        f"{changes.rows} rows changed; refreshing weeks {ready}"
        + (f" (moved away from {sorted(moved_from)})" if moved_from else "")
        + (f"; given up: {given_up}" if given_up else "")
    )
    return SensorResult(run_requests=requests, cursor=json.dumps(state))


def span_of(run: DagsterRun) -> tuple[str, str] | None:
    """The weeks a run wrote, as (first, last) partition keys: its range, its one partition, or None."""
    first, last = run.tags.get(RANGE_START), run.tags.get(RANGE_END)
    if first and last:
        return first, last
    return (run.tags[PARTITION], run.tags[PARTITION]) if run.tags.get(PARTITION) else None
