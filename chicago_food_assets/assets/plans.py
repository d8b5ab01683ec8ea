"""inspection_plan and plan_evaluation: what a team visits each week, who goes where in which order, and how the
plans did once their weeks' inspections arrived (core/lists/plans.py, core/lists/routes.py, core/lists/prospective.py).
"""

from dataclasses import replace
from pathlib import Path

import pandas as pd
from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetIn,
    Config,
    Failure,
    MetadataValue,
    Output,
    asset,
)
from pydantic import Field

from chicago_food_assets.assets.checks import NoInfinityCheck, QualityChecks, Rule, ShapeCheck
from chicago_food_assets.assets.lists import THE_WEEK_BEFORE
from chicago_food_assets.assets.partitions import upcoming
from chicago_food_assets.assets.types import markdown, table_asset, weekly_table
from chicago_food_assets.automation import conditions
from chicago_food_assets.core.declarations.contracts import CLEAN_INSPECTIONS, INSPECTION_PLAN, PLAN_EVALUATION
from chicago_food_assets.core.lists import plans, prospective, routes, visits
from chicago_food_assets.resources.history import History
from chicago_food_assets.resources.postgres import PostgresResource

CAPACITY_COLUMNS = ["week", "inspection_kind", "reinspection", "zip"]
DEFAULT = plans.PlanSettings()


class PlanConfig(Config):
    """The team and the policy of the weekly plan (core/lists/plans.PlanSettings, core/lists/routes.RouteSettings)."""

    policy: str = Field(
        default=DEFAULT.policy, description="due (most overdue first), risk (highest score) or balanced"
    )
    inspectors: int | None = Field(default=None, gt=0, description="None: as many as the capacity needs")
    visits_per_day: int = Field(default=DEFAULT.visits_per_day, gt=0, description="canvass visits an inspector a day")
    days: int = Field(default=DEFAULT.days, gt=0, le=7, description="working days, Monday on")
    capacity: int | None = Field(
        default=None, ge=0, description="visits in the week; None: the team's, else the median of recent weeks"
    )
    recent_weeks: int = Field(
        default=DEFAULT.recent_weeks, gt=0, description="complete weeks the data's capacity is the median of"
    )
    floor_days: int = Field(default=DEFAULT.floor_days, ge=0, description="balanced: risk 1 places overdue longer...")
    floor_share: float = Field(default=DEFAULT.floor_share, ge=0, le=1, description="...go first, this much at most")
    area_cap: float = Field(default=DEFAULT.area_cap, gt=0, le=1, description="balanced: the most one ZIP code takes")
    territories: str | None = Field(default=None, description="a CSV of inspector,zip; None: compact areas")
    time_limit_seconds: float = Field(default=1.0, gt=0, description="the routing solver's limit per inspector")
    search: str = Field(default="descent", description="descent (to a local optimum) or guided (to the limit)")
    start_latitude: float | None = Field(default=None, description="where every day starts and ends (with ...")
    start_longitude: float | None = Field(
        default=None, description="... start_latitude); None: each territory's centre"
    )

    def settings(self) -> tuple[plans.PlanSettings, routes.RouteSettings]:
        try:
            plan = plans.PlanSettings(
                self.policy,  # type: ignore[arg-type]  # checked by PlanSettings
                self.inspectors,
                self.visits_per_day,
                self.days,
                self.capacity,
                self.recent_weeks,
                self.floor_days,
                self.floor_share,
                self.area_cap,
            )
            if self.search not in ("descent", "guided"):
                raise ValueError(f"unknown search {self.search!r}: choose descent or guided")
            if (self.start_latitude is None) != (self.start_longitude is None):
                raise ValueError("give both start_latitude and start_longitude, or neither")
        except ValueError as error:
            raise Failure(f"the plan's settings: {error}") from error
        start = None if self.start_latitude is None else (self.start_latitude, float(self.start_longitude or 0))
        route = routes.RouteSettings(
            self.visits_per_day,
            self.days,
            self.time_limit_seconds,
            self.search,  # type: ignore[arg-type]  # checked above
            start,
        )
        return plan, route

    def territory_table(self, known_zips: pd.Series) -> pd.DataFrame | None:
        if self.territories is None:
            return None
        path = Path(self.territories)
        if not path.is_file():
            raise Failure(f"the territory file {path} does not exist")
        try:
            return routes.territories_from(pd.read_csv(path, dtype=str), known_zips.dropna().unique().tolist())
        except routes.TerritoryError as error:
            raise Failure(f"the territory file {path}: {error}") from error


def _one_visit(frame: pd.DataFrame) -> tuple[bool, dict]:
    over = frame.groupby(["week", "inspector", "day"]).size()
    repeated = int(frame.duplicated(["week", "establishment"]).sum())
    return repeated == 0, {"repeated": repeated, "most_stops_a_day": int(over.max()) if len(over) else 0}


PLAN_CHECKS = QualityChecks(
    "inspection_plan",
    (
        NoInfinityCheck(),
        ShapeCheck(columns=INSPECTION_PLAN.names),
        Rule("one_visit_per_place", "no establishment is planned twice in a week", "error", _one_visit),
    ),
)


@asset(
    ins={"visit_list": AssetIn()},
    deps=[AssetDep("clean_inspections", partition_mapping=THE_WEEK_BEFORE)],  # the capacity, the known ZIP codes
    **weekly_table(INSPECTION_PLAN, upcoming),
    check_specs=PLAN_CHECKS.specs,
    group_name="lists",
    description=INSPECTION_PLAN.description,
    automation_condition=conditions.current(),
)
def inspection_plan(
    context: AssetExecutionContext, config: PlanConfig, visit_list: pd.DataFrame, postgres: PostgresResource
):
    window = context.partition_time_window
    weeks = pd.date_range(window.start.replace(tzinfo=None), window.end.replace(tzinfo=None), freq="W-MON")[:-1]
    plan_settings, route_settings = config.settings()
    stored = History(postgres)
    try:
        visits.refuse_future(weeks[-1], stored.newest_week(CLEAN_INSPECTIONS), "plan")
    except visits.FutureWeekError as error:
        raise Failure(str(error)) from error
    inspections = stored.before(CLEAN_INSPECTIONS, CAPACITY_COLUMNS, weeks[-1].date())
    territories = config.territory_table(inspections["zip"])
    if territories is not None and plan_settings.inspectors is None:  # the team is the file's inspectors
        plan_settings = replace(plan_settings, inspectors=int(territories["inspector"].nunique()))
    counts = plans.canvass_counts(inspections)
    made, summary = [], []
    lists = dict(tuple(visit_list.groupby("week")))
    for week in weeks:  # a plan per week: a few routing solves each
        candidates = lists.get(week, visit_list.iloc[:0])
        try:
            crew, capacity = plans.team(plan_settings, plans.weekly_canvass(counts, week, config.recent_weeks))
            plan = plans.build(candidates, capacity, crew, plan_settings, route_settings, territories)
        except (ValueError, routes.TerritoryError) as error:
            raise Failure(f"the plan of {week:%Y-%m-%d}: {error}") from error
        made.append(plan)
        summary.append(
            {"week": f"{week:%Y-%m-%d}", "capacity": capacity, "team": crew.inspectors}
            | plans.totals(plan, len(candidates))
        )
    table = INSPECTION_PLAN.conform(pd.concat(made, ignore_index=True)) if made else INSPECTION_PLAN.empty()
    by_week = pd.DataFrame(summary)
    scope = "range_" if len(weeks) > 1 else ""
    yield Output(
        table,
        metadata={
            f"{scope}planned": len(table),
            "by_week": markdown(by_week, "_none_"),
            "settings": MetadataValue.json(config.model_dump()),
            "preview": _preview(table),
        },
    )
    yield from PLAN_CHECKS.evaluate(table)


def _preview(table: pd.DataFrame) -> MetadataValue:
    """The first inspector's first day of each week."""
    first = table[(table["inspector"] == 1) & table["day"].notna()]
    first = first[first["day"] == first.groupby("week")["day"].transform("min")]
    columns = ["week", "day", "stop", "dba_name", "address", "why", "score", "km"]
    return markdown(first.sort_values(["week", "stop"])[columns], "_empty_")


@asset(
    ins={"visit_list_outcomes": AssetIn(), "inspection_plan": AssetIn()},
    **table_asset(PLAN_EVALUATION),
    group_name="lists",
    description=PLAN_EVALUATION.description,
    automation_condition=conditions.follows(),
)
def plan_evaluation(visit_list_outcomes: pd.DataFrame, inspection_plan: pd.DataFrame):
    table = prospective.plan_table(visit_list_outcomes, inspection_plan)
    pooled = table[table["scope"] == prospective.POOLED]
    yield Output(
        table,
        metadata={
            "pooled": markdown(pooled.drop(columns=["week"]), "_no plan judged yet_"),
            "weeks_judged": int((table["scope"] != prospective.POOLED).sum()),
        },
    )
