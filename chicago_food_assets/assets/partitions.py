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


def why_not(key: str, partitions: WeeklyPartitionsDefinition, what: str) -> str | None:
    """Why `key` is not a partition of `partitions` (None when it is), in words: Dagster says only
    `DagsterInvalidSubsetError`."""
    try:
        day = date.fromisoformat(key)
    except ValueError:
        return f"{key!r} is not a date: {what}'s partitions are weeks named by their Monday, YYYY-MM-DD"
    if day.weekday() != 0:
        return f"{key} is a {day:%A}: {what}'s weeks are named by their Monday ({week_of(day)} for that day)"
    last = partitions.get_last_partition_key()
    if day < date.fromisoformat(FIRST_WEEK):
        return f"{key} is before the first week ({FIRST_WEEK}): the data starts there"
    if last is None or day > date.fromisoformat(last):
        return f"{key} is after {what}'s newest week ({last}): a week is a partition once it has ended" + (
            " (a visit list's, once it has begun)" if partitions.end_offset else ""
        )
    return None
