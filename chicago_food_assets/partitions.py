"""Weekly partitions keyed by the Monday that starts the week of the inspection date."""

from datetime import date, datetime, timedelta

from dagster import WeeklyPartitionsDefinition

from chicago_food_assets.core.dates import FIRST_WEEK, TIMEZONE

__all__ = ["FIRST_WEEK", "TIMEZONE", "upcoming", "week_of", "weekly"]

# day_offset=1: weeks start on Monday (Dagster's default is Sunday). The timezone makes schedules built from the
# partitions fire on Chicago time; partition keys stay the Mondays' dates.
weekly = WeeklyPartitionsDefinition(start_date=FIRST_WEEK, day_offset=1, timezone=TIMEZONE)
# The weeks a visit list is for: the same weeks and the current one (end_offset=1), whose list must exist before the
# week ends: it is built on its Monday, before its inspections.
upcoming = WeeklyPartitionsDefinition(start_date=FIRST_WEEK, day_offset=1, timezone=TIMEZONE, end_offset=1)


def week_of(day: date | datetime) -> date:
    """The Monday that starts the week containing `day`."""
    if isinstance(day, datetime):
        day = day.date()
    return day - timedelta(days=day.weekday())
