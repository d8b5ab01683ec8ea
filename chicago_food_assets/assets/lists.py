"""establishments, visit_list, visit_list_outcomes, list_evaluation: who is due this week, in which order, and how
well past weeks' lists did once their inspections arrived (core/lists/visits.py, core/lists/prospective.py)."""

import pandas as pd
from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetIn,
    Config,
    Failure,
    MetadataValue,
    Output,
    TimeWindowPartitionMapping,
    asset,
)
from pydantic import Field

from chicago_food_assets.assets.checks import NoInfinityCheck, QualityChecks, Rule, ShapeCheck
from chicago_food_assets.assets.partitions import upcoming
from chicago_food_assets.assets.scores import SCORE_RANGE
from chicago_food_assets.assets.types import markdown, table_asset, weekly_table
from chicago_food_assets.automation import conditions
from chicago_food_assets.core.declarations import canvass
from chicago_food_assets.core.declarations.contracts import (
    CLEAN_INSPECTIONS,
    ESTABLISHMENTS,
    INSPECTION_VIOLATIONS,
    LIST_EVALUATION,
    VISIT_LIST,
    VISIT_LIST_OUTCOMES,
    VISITS_WITHOUT_OUTCOME,
)
from chicago_food_assets.core.features import repeats
from chicago_food_assets.core.lists import batch, prospective, visits
from chicago_food_assets.core.models.training import Selected
from chicago_food_assets.resources.history import History
from chicago_food_assets.resources.postgres import PostgresResource

FAR = pd.Timestamp("2100-01-01").date()  # "before" that reads every stored week


class ListConfig(Config):
    """Who is on a week's list (core/visits.ListSettings); Chicago's canvass frequency by risk, in days."""

    risk_1_days: int = Field(default=canvass.FREQUENCY_DAYS[1], gt=0, description="risk 1: twice a year")
    risk_2_days: int = Field(default=canvass.FREQUENCY_DAYS[2], gt=0, description="risk 2: once a year")
    risk_3_days: int = Field(default=canvass.FREQUENCY_DAYS[3], gt=0, description="risk 3: every other year")
    include_not_due: bool = Field(default=False, description="list every active place, due or not")
    within_years: float = Field(default=3.0, gt=0, description="only places inspected or visited in the last N years")
    max_length: int | None = Field(default=None, gt=0, description="at most this many places, the riskiest first")
    helpers: int = Field(
        default=1,
        ge=0,
        description="helper processes that build a range's weeks beside the run's own (from "
        f"{batch.HELPER_WEEKS} weeks on; 0: the run's process alone)",
    )

    def settings(self) -> visits.ListSettings:
        return visits.ListSettings(
            {1: self.risk_1_days, 2: self.risk_2_days, 3: self.risk_3_days},
            self.include_not_due,
            self.within_years,
            self.max_length,
        )


def _one_place(frame: pd.DataFrame) -> tuple[bool, dict]:
    repeated = int(frame.duplicated(["week", "establishment"]).sum())
    return repeated == 0, {"repeated": repeated}


LIST_CHECKS = QualityChecks(
    "visit_list",
    (
        NoInfinityCheck(),
        ShapeCheck(columns=VISIT_LIST.names),
        SCORE_RANGE,
        Rule("one_row_per_place", "no establishment is listed twice in a week", "error", _one_place),
    ),
)


@asset(
    **table_asset(ESTABLISHMENTS),
    deps=["clean_inspections", "visits_without_outcome"],
    group_name="lists",
    description=ESTABLISHMENTS.description,
    automation_condition=conditions.follows(),
)
def establishments(postgres: PostgresResource):
    stored = History(postgres)
    table = visits.register(
        stored.before(CLEAN_INSPECTIONS, visits.HISTORY_COLUMNS, FAR),
        stored.before(VISITS_WITHOUT_OUTCOME, VISITS_WITHOUT_OUTCOME.names, FAR),
    )
    yield Output(
        table,
        metadata={
            "by_status": MetadataValue.json(table["status"].value_counts().to_dict() or {"none": 0}),
            "without_coordinates": int(table["latitude"].isna().sum()),
        },
    )


THE_WEEK_BEFORE = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True)


@asset(
    ins={"selected_model": AssetIn()},
    deps=[
        AssetDep("clean_inspections", partition_mapping=THE_WEEK_BEFORE),
        AssetDep("visits_without_outcome", partition_mapping=THE_WEEK_BEFORE),
        AssetDep("inspection_violations", partition_mapping=THE_WEEK_BEFORE),  # the citations behind repeats
    ],
    **weekly_table(VISIT_LIST, upcoming),
    check_specs=LIST_CHECKS.specs,
    group_name="lists",
    description=VISIT_LIST.description,
    automation_condition=conditions.current(),
)
def visit_list(
    context: AssetExecutionContext, config: ListConfig, selected_model: Selected, postgres: PostgresResource
):
    window = context.partition_time_window
    weeks = pd.date_range(window.start.replace(tzinfo=None), window.end.replace(tzinfo=None), freq="W-MON")[:-1]
    stored = History(postgres)
    try:
        visits.refuse_future(weeks[-1], stored.newest_week(CLEAN_INSPECTIONS))
    except visits.FutureWeekError as error:
        raise Failure(str(error)) from error
    last = weeks[-1].date()
    # everything the lists may read, one query per table for the whole range; each week reads the part before it
    inspections = stored.before(CLEAN_INSPECTIONS, visits.HISTORY_COLUMNS, last)
    closing = stored.before(VISITS_WITHOUT_OUTCOME, VISITS_WITHOUT_OUTCOME.names, last)
    citations = stored.before(INSPECTION_VIOLATIONS, repeats.CITATION_COLUMNS, last)
    settings = config.settings()
    lists = batch.visit_lists(weeks, inspections, closing, citations, selected_model, settings, config.helpers)
    table = VISIT_LIST.conform(pd.concat(lists, ignore_index=True)) if lists else VISIT_LIST.empty()
    by_week = table.groupby("week").agg(
        listed=("rank", "size"),
        overdue=("days_overdue", lambda days: int((days > 0).sum())),
        not_on_map=("on_map", lambda on_map: int((~on_map).sum())),
        mean_score=("score", "mean"),
        period=("period", "first"),
    )
    scope = "range_" if len(weeks) > 1 else ""
    yield Output(
        table,
        metadata={
            f"{scope}listed": len(table),
            "model_version": selected_model.version,
            "by_week": markdown(by_week.reset_index(), "_none_"),
            "settings": MetadataValue.json({**config.model_dump(), "frequency_days": dict(settings.frequency_days)}),
            "preview": _preview(table),
        },
    )
    yield from LIST_CHECKS.evaluate(table)


def _preview(table: pd.DataFrame, rows: int = 5) -> MetadataValue:
    columns = ["week", "rank", "dba_name", "address", "facility_type", "score", "days_overdue"]
    return markdown(table.sort_values(["week", "rank"]).groupby("week").head(rows)[columns], "_empty_")


@asset(
    ins={"clean_inspections": AssetIn(), "visit_list": AssetIn()},
    **weekly_table(VISIT_LIST_OUTCOMES),
    group_name="lists",
    description=VISIT_LIST_OUTCOMES.description,
    automation_condition=conditions.judged(),
)
def visit_list_outcomes(context: AssetExecutionContext, clean_inspections: pd.DataFrame, visit_list: pd.DataFrame):
    table = VISIT_LIST_OUTCOMES.conform(prospective.outcomes(clean_inspections, visit_list))
    weeks_without_list = sorted(set(clean_inspections["week"]) - set(visit_list["week"]))
    yield Output(
        table,
        metadata={
            "inspections": len(table),
            "on_the_list": int(table["listed"].sum()),
            "weeks_without_list": [f"{w:%Y-%m-%d}" for w in weeks_without_list] or "none",
        },
    )


@asset(
    ins={"visit_list_outcomes": AssetIn()},
    **table_asset(LIST_EVALUATION),
    group_name="lists",
    description=LIST_EVALUATION.description,
    automation_condition=conditions.follows(),
)
def list_evaluation(visit_list_outcomes: pd.DataFrame):
    table = prospective.table(visit_list_outcomes)
    pooled = table[table["scope"] == prospective.POOLED]
    yield Output(
        table,
        metadata={
            "pooled": markdown(pooled.drop(columns=["week"]), "_no list judged yet_"),
            **(
                {
                    "pooled_roc_auc": float(pooled["roc_auc"].iloc[-1])
                    if pd.notna(pooled["roc_auc"].iloc[-1])
                    else 0.0,
                    "pooled_coverage": float(pooled["coverage"].iloc[-1]),
                    "pooled_canvass_coverage": float(pooled["canvass_coverage"].iloc[-1]),
                }
                if len(pooled)
                else {}
            ),
        },
    )
