"""Schedules: the weekly refresh on Monday morning, and retraining once a month."""

from dagster import DefaultScheduleStatus, ScheduleDefinition, build_schedule_from_partitioned_job

from chicago_food_assets.jobs import training_job, weekly_job
from chicago_food_assets.partitions import TIMEZONE

# Monday 06:00 in Chicago (the partitions' timezone): the week that just ended, end to end.
weekly_schedule = build_schedule_from_partitioned_job(
    weekly_job,
    hour_of_day=6,
    minute_of_hour=0,
    day_of_week=1,
    description="The week that just ended, end to end.",
    default_status=DefaultScheduleStatus.RUNNING,
)

# First Monday-ish of the month, 07:00: retrain, select, audit, publish (promotion rule: see SelectionConfig).
monthly_retraining = ScheduleDefinition(
    name="monthly_retraining",
    job=training_job,
    cron_schedule="0 7 1 * *",
    execution_timezone=TIMEZONE,
    description="Retrain every candidate on all feature weeks; the winner is promoted only if it passes the rule.",
    default_status=DefaultScheduleStatus.RUNNING,
)
