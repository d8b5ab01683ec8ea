"""Schedules: the weekly refresh on Monday morning, retraining once a month, and a daily look at Socrata."""

from dagster import DefaultScheduleStatus, JobDefinition, ScheduleDefinition, build_schedule_from_partitioned_job
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from chicago_food_assets.assets.partitions import TIMEZONE
from chicago_food_assets.automation.jobs import source_check_job, training_job, weekly_job

# Monday 06:00 in Chicago (the partitions' timezone): the week that just ended, end to end.
weekly_schedule = build_schedule_from_partitioned_job(
    weekly_job,
    hour_of_day=6,
    minute_of_hour=0,
    day_of_week=1,
    description="The week that just ended, end to end.",
    default_status=DefaultScheduleStatus.RUNNING,
)


def chicago_schedule(
    name: str, job: JobDefinition | UnresolvedAssetJobDefinition, cron: str, description: str
) -> ScheduleDefinition:
    """A schedule of an unpartitioned job, its cron in Chicago time, running from the start."""
    return ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone=TIMEZONE,
        description=description,
        default_status=DefaultScheduleStatus.RUNNING,
    )


# The 1st of the month, 07:00: retrain, select, audit, publish (promotion rule: see SelectionConfig).
monthly_retraining = chicago_schedule(
    "monthly_retraining",
    training_job,
    "0 7 1 * *",
    "Retrain every candidate on all feature weeks; the winner is promoted only if it passes the rule.",
)
source_check_schedule = chicago_schedule(
    "daily_source_check",
    source_check_job,
    "0 8 * * *",
    "Every morning at 08:00 Chicago: is Socrata's data still being updated?",
)
