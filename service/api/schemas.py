"""The API's response types, from their tables' contracts (a JSON column's served shape is its `shape` there);
the pages and the establishment that wrap them."""

from datetime import date
from typing import TYPE_CHECKING

import msgspec

from chicago_food_assets.core.declarations.columns import Contract
from chicago_food_assets.core.declarations.contracts import (
    CLEAN_INSPECTIONS,
    CURRENT_MODEL,
    FAIRNESS_AUDIT,
    INSPECTION_PLAN,
    INSPECTION_SCORES,
    LIST_EVALUATION,
    PLAN_EVALUATION,
    SCHEMA,
    VISIT_LIST,
)


def struct(name: str, contract: Contract, *extra: tuple[str, object]) -> type[msgspec.Struct]:
    """A response type with the contract's columns (their contracts), so the API and the table never drift; `extra`
    fields follow them."""
    fields = [(c.name, c.python) for c in contract.columns] + list(extra)
    return msgspec.defstruct(name, fields, module=__name__)


# where a scored inspection took place, from its clean row: a place is never shown by its license alone
PLACE = CLEAN_INSPECTIONS.select(["dba_name", "aka_name", "address", "zip"])
SCORED = Contract(
    INSPECTION_SCORES.name,
    INSPECTION_SCORES.description,
    (*INSPECTION_SCORES.columns, *PLACE.columns),
    INSPECTION_SCORES.partition,
    (),
)


def placed(table: str) -> str:
    """A scores table (inspection_scores, establishment_risk) with each inspection's names and address, as a FROM
    item: the filters on it reach the table's own indexes."""
    names = ", ".join(f"c.{name}" for name in PLACE.names)
    return (
        f"(SELECT t.*, {names} FROM {SCHEMA}.{table} t"
        f" LEFT JOIN {SCHEMA}.{CLEAN_INSPECTIONS.name} c ON c.inspection_id = t.inspection_id)"
    )


SERVED_MODEL = [name for name in CURRENT_MODEL.names if name not in ("training_scores", "libraries", "calibration")]

# period: training (in-sample), holdout or prediction for the model that scored it; failed: the known outcome
if TYPE_CHECKING:  # built from the contract at import: a type checker sees a struct

    class Score(msgspec.Struct): ...

    class Past(msgspec.Struct): ...

    class Group(msgspec.Struct): ...

    class Visit(msgspec.Struct): ...

    class Judged(msgspec.Struct): ...

    class Model(msgspec.Struct): ...

    class Stop(msgspec.Struct): ...

    class PlanJudged(msgspec.Struct): ...

else:
    Score = struct("Score", SCORED)
    Past = struct(
        "Past",
        INSPECTION_SCORES.select(
            ["inspection_id", "week", "inspection_date", "score", "rank", "period", "failed", "model_version"]
        ),
    )
    # a facility type's fairness, as the model's response carries it
    Group = struct(
        "Group",
        FAIRNESS_AUDIT.select(
            ["facility_type", "group_size", "fpr", "fdr", "fpr_disparity", "fdr_disparity", "fpr_parity", "fdr_parity"]
        ),
    )
    # a place on a week's visit list (the week is the list's)
    Visit = struct("Visit", VISIT_LIST.select([name for name in VISIT_LIST.names if name != "week"]))
    # a row of the lists' prospective evaluation: a week's, or pooled over a model's weeks outside its training
    Judged = struct("Judged", LIST_EVALUATION)
    # the published model: the stored columns but the training score distribution, libraries and calibration, and
    # its fairness by facility type
    Model = struct("Model", CURRENT_MODEL.select(SERVED_MODEL), ("fairness", list[Group]))
    # a visit of a week's plan (the week is the plan's)
    Stop = struct("Stop", INSPECTION_PLAN.select([name for name in INSPECTION_PLAN.names if name != "week"]))
    # a row of the plans' prospective evaluation
    PlanJudged = struct("PlanJudged", PLAN_EVALUATION)


class Establishment(msgspec.Struct):
    license: int
    establishment: str
    facility_type: str | None
    current: Score
    inspections_scored: int
    history: list[Past]  # newest first, at most 100
    listed: Visit | None  # its entry on the newest visit list; null when it is not on it
    listed_week: date | None  # that list's week
    not_listed: str | None  # why it is not on that list (closed, not seen for years, not due until ...); null if it is


class VisitList(msgspec.Struct):
    week: date
    items: list[Visit]  # in visiting order
    next_cursor: str | None  # pass as `cursor` for the next page; null on the last page


class ListEvaluation(msgspec.Struct):
    pooled: list[Judged]  # per model: over its weeks outside training (holdout and prediction)
    weeks: list[Judged]  # each judged week, newest first


class PlanTotals(msgspec.Struct):
    policy: str
    candidates: int  # places on the week's visit list
    planned: int  # places on the plan (the rest of the list is the backlog)
    backlog: int
    inspectors: int
    floor: int  # planned for the legal floor (why: floor or both)
    to_locate: int  # planned places without coordinates: not routed
    time_limit: int  # stops whose route is the best the solver found when its time ran out
    km: float  # the week's travel, every day back to its start
    list_order_km: float  # the same stops taken in list order, each inspector's week (no routing)


class Plan(msgspec.Struct):
    week: date
    items: list[Stop]  # by inspector, day and stop; the places to locate last for each inspector
    next_cursor: str | None  # pass as `cursor` for the next page; null on the last page
    totals: PlanTotals  # the whole week's plan, not only this page


class Day(msgspec.Struct):
    day: date
    stops: int
    km: float


class InspectorWeek(msgspec.Struct):
    week: date
    inspector: int
    inspector_name: str
    days: list[Day]
    items: list[Stop]  # the week's stops in order, then the places to locate
    km: float
    list_order_km: float  # the same stops in list order, visits_per_day a day (no routing)


class PlanEvaluation(msgspec.Struct):
    pooled: list[PlanJudged]  # per model and policy: over its weeks outside training
    weeks: list[PlanJudged]  # each judged week, newest first


class WeekScores(msgspec.Struct):
    week: date
    items: list[Score]
    next_cursor: str | None  # pass as `cursor` for the next page; null on the last page


SCORE_COLUMNS = ", ".join(Score.__struct_fields__)
GROUP_COLUMNS = ", ".join(Group.__struct_fields__)
