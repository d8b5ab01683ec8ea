"""The alerts sensor: tells someone, once, when a run gives up, a week is late, a check fails or the model drifts.

Every tick it reads what finished since its cursor (the storage id of the last run-finished event it read) and the
Socrata sensor's cursor, and sends one alert per event:
- a run that failed after Dagster's run retries (`run_failed`), or failed on a blocking check (`check_failed`), or
  whose retrained model was refused by the promotion rule (`model_not_promoted`);
- a failed freshness check (`late`: the week's monitoring or its Monday list missing by the deadline), a failed
  Socrata age check (`source_stale`), a failed drift check (`drift`: PSI over the line for a sizeable group);
- weeks the Socrata sensor gave up on (`weeks_given_up`).
Each alert has a key; the cursor keeps the keys it sent, so a restarted daemon (which resumes from the stored cursor)
sends nothing twice. A delivery that fails after its retries is kept in the cursor and tried again on the next
ticks (up to RESEND_TICKS); it never touches a pipeline run. With no channel configured the sensor still advances,
so turning alerts on later does not replay the past.
"""

import json
import os

from dagster import (
    DagsterEventType,
    DefaultSensorStatus,
    RunStatusChangeRecordsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from chicago_food_assets.automation.sensors import will_retry
from chicago_food_assets.operations import health
from chicago_food_assets.operations.messages import Alert
from chicago_food_assets.resources.alerts import AlertResource

INTERVAL_SECONDS = int(os.environ.get("CHICAGO_FOOD_ALERT_INTERVAL_SECONDS", "60"))  # between ticks, at least
PAGE = 100  # finished runs read per tick at most (the rest on the next tick)
RESEND_TICKS = 30  # ticks an undelivered alert is retried on (30 minutes at the default interval)
REMEMBERED = 1000  # sent keys kept in the cursor
LOOKBACK_SECONDS = 24 * 3600  # on the very first tick: alert on what finished in the last day only
FINISHED = (DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_SUCCESS)


def run_alerts(report: health.RunReport) -> list[Alert]:
    """The alerts of one finished run."""
    run = report.run

    def alert(kind: str, key: str, summary: str, detail: str, weeks: list[str] | None = None) -> Alert:
        found = health.weeks_of(run) if weeks is None else weeks
        return Alert(kind, key, summary, detail, weeks=found, run_id=run.run_id, job=run.job_name)

    alerts = []
    failed = run.is_failure and not will_retry(run)
    if failed and report.blocking:
        lines = [health.describe_check(check) for check in report.blocking]
        alerts.append(alert("check_failed", f"{run.run_id}:blocking", lines[0], "\n".join(lines)))
    elif failed:
        refused = [f for f in report.failures if f.step == "selected_model" and "not promoted" in f.message]
        if refused:
            message = refused[0].message
            alerts.append(alert("model_not_promoted", f"{run.run_id}:promotion", message, message))
        else:
            first = report.failures[0] if report.failures else None
            summary = f"run of {run.job_name} failed" + (f" at step {first.step}" if first else "")
            detail = "\n\n".join(f"{f.step}: {f.message}" for f in report.failures) or "no step failed: see the run"
            alerts.append(alert("run_failed", f"{run.run_id}:failed", summary, detail[:4000]))
    for check in report.checks:
        line, asset = health.describe_check(check), check.asset_key.to_user_string()
        if check.check_name == health.FRESHNESS_CHECK:  # once per missing week: evaluated again after later writes
            late = [check.partition] if check.partition else _expected(check)
            alerts.append(alert("late", f"late:{asset}:{','.join(late) or run.run_id}", line, line, late))
        elif check.check_name == health.SOURCE_CHECK:  # once per newest change: the daily check says it each morning
            newest = check.metadata.get("newest_update")
            alerts.append(alert("source_stale", f"source_stale:{getattr(newest, 'value', newest)}", line, line, []))
        elif check.check_name == health.DRIFT_CHECK:
            alerts.append(alert("drift", f"{run.run_id}:{asset}:drift", line, line))
    return alerts


def _expected(check: object) -> list[str]:
    """The partition a failed freshness check expected, from its description ("We expected partition X ...")."""
    text = getattr(check, "description", None) or ""
    marker = "partition "
    if marker not in text:
        return []
    return [text.split(marker, 1)[1].split(" ", 1)[0].rstrip(".,")]


def given_up_alerts(weeks: list[str], already: set[str]) -> list[Alert]:
    new = sorted(set(weeks) - already)
    if not new:
        return []
    summary = f"{len(new)} week(s) failed {health.MAX_ATTEMPTS} runs and are no longer re-requested"
    detail = "Run them by hand once the cause is fixed (docs/operations.md); a later change also re-requests them."
    return [Alert("weeks_given_up", "given_up:" + ",".join(new), summary, detail, weeks=new)]


@sensor(minimum_interval_seconds=INTERVAL_SECONDS, description=__doc__, default_status=DefaultSensorStatus.RUNNING)
def alerts(context: SensorEvaluationContext, alerting: AlertResource) -> SensorResult:
    state: dict = {"after": None, "sent": [], "given_up": [], "unsent": []}
    state.update(json.loads(context.cursor) if context.cursor else {})
    found, state["after"] = finished_since(context, state["after"])
    weeks = health.given_up(health.sensor_cursor(context.instance, health.SOCRATA_SENSOR))
    found += given_up_alerts(weeks, set(state["given_up"]))
    state["given_up"] = weeks  # a week that recovers and is given up again is told again

    channels = alerting.channels()
    pending = [(Alert.from_json(item["alert"]), item["channels"], item["ticks"]) for item in state["unsent"]]
    sent = set(state["sent"])
    new: dict[str, Alert] = {}  # one per key: two runs of a tick may find the same late week
    for alert in found:
        if alert.key not in sent:
            new.setdefault(alert.key, alert)
    pending += [(alert, channels, 0) for alert in new.values()]
    state["unsent"], delivered = [], []
    down: set[str] = set()  # a channel that failed once this tick is not tried again until the next
    for alert, wanted, ticks in pending:
        skipped = [channel for channel in wanted if channel in down]
        missing = alerting.send(alert, [channel for channel in wanted if channel not in down]) + skipped
        down.update(missing)
        if alert.key not in sent:
            sent.add(alert.key)
            state["sent"].append(alert.key)
        if not missing:
            delivered += [alert.key] if wanted else []
        elif ticks + 1 < RESEND_TICKS:
            context.log.warning(f"alert {alert.key} not delivered by {missing}; trying again on the next tick")
            state["unsent"].append({"alert": alert.to_json(), "channels": missing, "ticks": ticks + 1})
        else:
            context.log.error(f"alert {alert.key} not delivered by {missing} in {RESEND_TICKS} ticks; dropped")
    state["sent"] = state["sent"][-REMEMBERED:]
    if new and not channels:
        context.log.info(f"{len(new)} alert(s), no channel configured: {[alert.title for alert in new.values()]}")
    if delivered:
        context.log.info(f"sent {len(delivered)} alert(s) by {channels}: {delivered}")
    summary = f"{len(new)} new alert(s), {len(delivered)} delivered, {len(state['unsent'])} to resend"
    return SensorResult(skip_reason=SkipReason(summary), cursor=json.dumps(state))


def finished_since(context: SensorEvaluationContext, after: int | None) -> tuple[list[Alert], int | None]:
    """The alerts of the runs that finished after storage id `after` (on the first tick: in the last day), and the
    storage id to read from next. A full page of one event type caps it there: what lies beyond is read again next
    tick, and the sent keys keep it from being told twice."""
    found: list[Alert] = []
    newest, cap = after, None
    for event_type in FINISHED:
        since = {"after_storage_id": after} if after is not None else {"after_timestamp": _now() - LOOKBACK_SECONDS}
        records = context.instance.fetch_run_status_changes(
            RunStatusChangeRecordsFilter(event_type=event_type, **since),  # type: ignore[arg-type]
            limit=PAGE,
            ascending=True,
        ).records
        for record in records:
            newest = max(newest or 0, record.storage_id)
            run = context.instance.get_run_by_id(record.event_log_entry.run_id)
            if run is not None:
                found += run_alerts(health.report(context.instance, run))
        if len(records) == PAGE:
            cap = min(cap or records[-1].storage_id, records[-1].storage_id)
    if newest is None:  # nothing finished in the look-back: start from the newest event there is
        newest = _latest_storage_id(context)
    return found, min(newest, cap) if cap is not None and newest is not None else newest


def _now() -> float:
    from dagster._time import get_current_timestamp

    return get_current_timestamp()


def _latest_storage_id(context: SensorEvaluationContext) -> int | None:
    """The newest run-finished event's storage id (None: no run ever finished)."""
    ids = []
    for event_type in FINISHED:
        records = context.instance.fetch_run_status_changes(event_type, limit=1, ascending=False).records
        ids += [record.storage_id for record in records]
    return max(ids) if ids else None
