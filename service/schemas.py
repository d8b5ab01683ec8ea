"""The API's response types: scores and fairness groups from their tables' contracts; the model's by hand, because it
renames the stored windows to the names the API has always served and gives its JSON columns their shapes."""

from datetime import date, datetime
from typing import TYPE_CHECKING

import msgspec

from chicago_food_assets.core.columns import Contract
from chicago_food_assets.core.contracts import FAIRNESS_AUDIT, INSPECTION_SCORES, LIST_EVALUATION, VISIT_LIST


def struct(name: str, contract: Contract) -> type[msgspec.Struct]:
    """A response type with the contract's columns (core/contracts.py), so the API and the table never drift."""
    fields = [(c.name, c.type.python if not c.nullable else c.type.python | None) for c in contract.columns]
    return msgspec.defstruct(name, fields, module=__name__)


# period: training (in-sample), holdout or prediction for the model that scored it; failed: the known outcome
if TYPE_CHECKING:  # built from the contract at import: a type checker sees a struct

    class Score(msgspec.Struct): ...

    class Past(msgspec.Struct): ...

    class Group(msgspec.Struct): ...

    class Visit(msgspec.Struct): ...

    class Judged(msgspec.Struct): ...

else:
    Score = struct("Score", INSPECTION_SCORES)
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


class Establishment(msgspec.Struct):
    license: int
    establishment: str
    facility_type: str | None
    current: Score
    inspections_scored: int
    history: list[Past]  # newest first, at most 100
    listed: Visit | None  # its entry on the newest visit list; null when it is not on it
    listed_week: date | None  # that list's week


class VisitList(msgspec.Struct):
    week: date
    items: list[Visit]  # in visiting order
    next_cursor: str | None  # pass as `cursor` for the next page; null on the last page


class ListEvaluation(msgspec.Struct):
    pooled: list[Judged]  # per model: over its weeks outside training (holdout and prediction)
    weeks: list[Judged]  # each judged week, newest first


class WeekScores(msgspec.Struct):
    week: date
    items: list[Score]
    next_cursor: str | None  # pass as `cursor` for the next page; null on the last page


class Model(msgspec.Struct):
    model_version: str
    name: str
    selected_by: str
    refit: bool
    training_from: date
    holdout_from: date
    holdout_to: date  # exclusive
    train_rows: int
    holdout_rows: int
    metrics: dict[str, dict[str, float]]
    features: list[str]
    fairness: list[Group]
    published_at: datetime
    selected_because: str | None  # the backtest's rule: best pooled ROC AUC, or a simpler model inside its interval
    target: str  # what the scores predict: failed, or critical_found (a critical or priority violation)
    backtest: list[dict[str, str | int | float | None]]  # per model: each cutoff and `pooled` (ROC AUC with its CI)
    # the same windows under the City of Chicago's protocol: canvass inspections, the first 60 days, re-ordered
    chicago: list[dict[str, str | int | float | None]]
    ranking: dict[str, object] | None  # the deployed ranking policy (single or per-group thresholds) and why


SCORE_COLUMNS = ", ".join(Score.__struct_fields__)
GROUP_COLUMNS = ", ".join(Group.__struct_fields__)
