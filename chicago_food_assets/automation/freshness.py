"""Freshness: each week is through the pipeline by its deadline, and Socrata itself is still being updated.

- `score_monitoring` (the end of a week's chain: raw, clean, features, scores, monitoring) must hold the week that
  ended, and `visit_list` the week that starts, by the deadline: Monday 09:00 in Chicago by default
  (CHICAGO_FOOD_DEADLINE_CRON, a cron in Chicago time). Dagster's time-partition freshness checks, evaluated by their
  sensor; a failed one is a `late` alert.
- `source_is_fresh`: Socrata's newest `:updated_at` is at most CHICAGO_FOOD_SOURCE_MAX_AGE_DAYS days old (default 7):
  the City still publishes. Checked daily by `source_check`; a failed one is a `source_stale` alert.
"""

import os
import warnings

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    DefaultSensorStatus,
    asset_check,
    build_sensor_for_freshness_checks,
    build_time_partition_freshness_checks,
)

from chicago_food_assets.assets.partitions import TIMEZONE
from chicago_food_assets.resources.socrata import SocrataResource

DEADLINE_CRON = os.environ.get("CHICAGO_FOOD_DEADLINE_CRON", "0 9 * * 1")
SOURCE_MAX_AGE_DAYS = float(os.environ.get("CHICAGO_FOOD_SOURCE_MAX_AGE_DAYS", "7"))
ON_TIME = ("score_monitoring", "visit_list")  # a week's end of the chain, and the week's list

# Dagster 1.13 marks these checks superseded by FreshnessPolicy, whose evaluation is asset-level (the newest
# materialization of any partition): a backfill of an old week would make a missing new week look fresh. These checks
# ask for the partition the deadline expects, which is the question here.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*is superseded.*")
    weekly_freshness = build_time_partition_freshness_checks(
        assets=list(ON_TIME), deadline_cron=DEADLINE_CRON, timezone=TIMEZONE, severity=AssetCheckSeverity.WARN
    )
    freshness_sensor = build_sensor_for_freshness_checks(
        freshness_checks=weekly_freshness,
        minimum_interval_seconds=600,
        name="freshness",
        default_status=DefaultSensorStatus.RUNNING,
    )


@asset_check(
    asset="raw_inspections",
    name="source_is_fresh",
    description=f"Socrata's newest :updated_at is at most CHICAGO_FOOD_SOURCE_MAX_AGE_DAYS days old "
    f"({SOURCE_MAX_AGE_DAYS:g} here): the City is still publishing inspections.",
)
def source_is_fresh(socrata: SocrataResource) -> AssetCheckResult:
    newest = socrata.newest_update()
    if newest is None:
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN, metadata={"newest_update": "none"})
    stamp = pd.Timestamp(newest)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    age = (pd.Timestamp.now(tz="UTC") - stamp).total_seconds() / 86400
    return AssetCheckResult(
        passed=bool(age <= SOURCE_MAX_AGE_DAYS),
        severity=AssetCheckSeverity.WARN,
        metadata={"newest_update": newest, "age_days": round(age, 2), "max_age_days": SOURCE_MAX_AGE_DAYS},
    )
