"""What follows on its own: each asset that follows others says when, as a Dagster AutomationCondition, so whatever
wrote its inputs (a schedule's run, a sensor's, a backfill from the asset graph, a CLI `asset materialize`) is
followed the same way. The `follow_ups` sensor evaluates them in the daemon.

- `establishment_risk` (lookups), `establishments` (the register), `list_evaluation`: once after any week of what
  they read is written, when nothing they read is being written (`follows`).
- `visit_list_outcomes`: a week is judged again after its inspections or its list change, if it has a list.
- `visit_list`: the current week's list after the week before it is stored or a model is published
  (`AutomationCondition.eager()`: the latest week only; a list of a past week is history, built as of its Monday);
  `inspection_plan`: the current week's plan after its list, the same way.
- `plan_evaluation`: once after any plan or any week's outcomes are written (`follows`).

Not follow-ups, and kept as they are: the Socrata change sensor, the weekly schedule (its run stops at blocking
checks), monthly retraining, the daily source check, freshness and the alerts sensor.
"""

import os

from dagster import AssetSelection, AutomationCondition, AutomationConditionSensorDefinition, DefaultSensorStatus


def follows() -> AutomationCondition:
    """Once after any partition of an input is written, when no input and not the asset itself is being written.

    Unlike `eager()`, a week missing upstream does not hold it back: an unpartitioned table that reads weekly ones
    always has weeks missing (the partitions start in 2010)."""
    return (
        AutomationCondition.any_deps_updated().since_last_handled()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label("follows its inputs")


def judged() -> AutomationCondition:
    """A week's outcomes again after its inspections or its list change, when the week has a list."""
    return (follows() & ~AutomationCondition.any_deps_missing()).with_label("judged when its list or week changes")


def current() -> AutomationCondition:
    """The current week's list: Dagster's `eager`, on the latest week only."""
    return AutomationCondition.eager()


INTERVAL_SECONDS = int(os.environ.get("CHICAGO_FOOD_FOLLOW_UP_INTERVAL_SECONDS", "30"))  # between evaluations, at least

follow_ups = AutomationConditionSensorDefinition(
    "follow_ups",
    target=AssetSelection.all(),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=INTERVAL_SECONDS,
    description=__doc__,
)
