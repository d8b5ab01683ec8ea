"""What the instance knows about the platform's health, for the alerts sensor and `./run status`.

Reads only: Dagster's instance (runs, their events, the sensors' cursors) here; the tables in `./run status`.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dagster import DagsterEventType, DagsterInstance, DagsterRun
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluation
from dagster._core.scheduler.instigation import InstigatorType

from chicago_food_assets.assets.scores import DRIFT
from chicago_food_assets.automation.freshness import source_is_fresh, weekly_freshness
from chicago_food_assets.automation.sensors import MAX_ATTEMPTS, socrata_changes, span_of, weeks_between

SOCRATA_SENSOR = socrata_changes.name
# the checks that alert even when they only warn: each named by its own declaration
FRESHNESS_CHECK = next(iter(weekly_freshness[0].check_keys)).name  # Dagster's name for its freshness checks
SOURCE_CHECK = next(iter(source_is_fresh.check_keys)).name
DRIFT_CHECK = DRIFT.name


def sensor_cursor(instance: DagsterInstance, name: str) -> dict | None:
    """The JSON cursor of the sensor called `name`, as the daemon last stored it (None: it never ticked)."""
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.name == name and state.instigator_data is not None:
            cursor = getattr(state.instigator_data, "cursor", None)
            return json.loads(cursor) if cursor else None
    return None


def given_up(socrata_state: dict | None) -> list[str]:
    """The weeks the Socrata sensor stopped re-requesting after MAX_ATTEMPTS failed runs."""
    owed = (socrata_state or {}).get("owed", {})
    return sorted(week for week, attempts in owed.items() if attempts >= MAX_ATTEMPTS)


def owed(socrata_state: dict | None) -> list[str]:
    """The weeks the Socrata sensor still owes a successful run (given up or not)."""
    return sorted((socrata_state or {}).get("owed", {}))


def weeks_of(run: DagsterRun) -> list[str]:
    """The weeks a run wrote: its partition range, its partition, or none."""
    span = span_of(run)
    return weeks_between(*span) if span else []


@dataclass(frozen=True)
class Failure:
    step: str
    message: str


@dataclass
class RunReport:
    """A finished run: its failed steps and its failed checks."""

    run: DagsterRun
    failures: list[Failure] = field(default_factory=list)
    checks: list[AssetCheckEvaluation] = field(default_factory=list)  # the evaluations that did not pass

    @property
    def blocking(self) -> list[AssetCheckEvaluation]:
        return [check for check in self.checks if check.blocking]


def report(instance: DagsterInstance, run: DagsterRun) -> RunReport:
    """What went wrong in `run`: one read of its failure and check events."""
    found = RunReport(run)
    kinds = {DagsterEventType.STEP_FAILURE, DagsterEventType.ASSET_CHECK_EVALUATION}
    for entry in instance.all_logs(run.run_id, of_type=kinds):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.STEP_FAILURE:
            data = event.step_failure_data
            message = ""
            if data.user_failure_data is not None and data.user_failure_data.description:
                message = data.user_failure_data.description
            elif data.error is not None:
                message = _messages(data.error)
            found.failures.append(Failure(event.step_key or "", message))
        else:
            evaluation = event.event_specific_data
            if isinstance(evaluation, AssetCheckEvaluation) and not evaluation.passed:
                found.checks.append(evaluation)
    return found


def _messages(error: object) -> str:
    """An error's message and its causes' (a step that gave up after retries says only that; its cause says why)."""
    parts: list[str] = []
    while error is not None and len(parts) < 5:
        text = (getattr(error, "message", "") or "").strip()
        if text and text not in parts:
            parts.append(text)
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    return "\n  caused by: ".join(parts)


def _plain(key: str, value: object) -> str | None:
    """A metadata value in words: an epoch timestamp as a UTC time, a dict or a long list left out (None)."""
    value = getattr(value, "value", value)
    if isinstance(value, dict) or (isinstance(value, list | tuple) and len(value) > 10):
        return None
    if isinstance(value, int | float) and "timestamp" in key and 1e9 < value < 4e9:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def numbers(evaluation: AssetCheckEvaluation) -> str:
    """A check's metadata as `name value` pairs a person can read (no epoch stamps, no parameter dicts)."""
    pairs = []
    for key, value in evaluation.metadata.items():
        said = _plain(key, value)
        if said is not None:
            pairs.append(f"{key.removeprefix('dagster/').replace('_', ' ').strip()} {said}")
    return "; ".join(pairs)


def explain(evaluation: AssetCheckEvaluation) -> str:
    """A failed check in plain words, and what to do about it (what `./run status` prints)."""
    asset = evaluation.asset_key.to_user_string()
    data = {key: getattr(value, "value", value) for key, value in evaluation.metadata.items()}
    if evaluation.check_name == FRESHNESS_CHECK:
        week = f"the week of {evaluation.partition}" if evaluation.partition else "the newest week"
        return (
            f"{asset} for {week} was not ready by its deadline (CHICAGO_FOOD_DEADLINE_CRON). To do: see that week's "
            "run in the UI (./run ui); if none ran, materialize it (docs/operations.md, 're-run a week')"
        )
    if evaluation.check_name == SOURCE_CHECK:
        return (
            f"Socrata's newest update ({data.get('newest_update', 'none')}) is {data.get('age_days', '?')} days "
            f"old, over the {data.get('max_age_days', '?')} allowed (CHICAGO_FOOD_SOURCE_MAX_AGE_DAYS): the City may "
            "have stopped publishing, or the portal refuses us. To do: open the dataset on data.cityofchicago.org "
            "and check SOCRATA_APP_TOKEN"
        )
    if evaluation.check_name == DRIFT_CHECK:
        drifting = data.get("drifting", "")
        listed = ", ".join(drifting) if isinstance(drifting, list | tuple) else str(drifting)
        return (
            f"scores drifted from training (PSI over {data.get('alert_line', '?')}) in the newest weeks: {listed}. "
            "To do: compare the weeks on the dashboard's drift chart; retrain if the places inspected changed"
        )
    said = numbers(evaluation)
    stop = "stopped the rest of its run" if evaluation.blocking else "did not pass (a warning)"
    return (
        f"check {evaluation.check_name} on {asset} {stop}" + (f": {said}" if said else "") + ". To do: read the "
        "check's metadata in the UI (./run ui), fix the data or the setting, and re-run the week"
    )


def describe_check(evaluation: AssetCheckEvaluation) -> str:
    """A failed check in one line (an alert's): which, on which asset, and its numbers in words."""
    said = numbers(evaluation)
    where = f"{evaluation.asset_key.to_user_string()}.{evaluation.check_name}"
    return f"{where} failed" + (f" ({said[:600]})" if said else "")
