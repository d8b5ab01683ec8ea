"""The API's response types: the scores' from their table's contract, the model's and the groups' by hand."""

from datetime import date, datetime
from typing import TYPE_CHECKING

import msgspec

from chicago_food_assets.core.contracts import INSPECTION_SCORES, Contract

PYTHON_TYPES = {
    "bigint": int,
    "integer": int,
    "smallint": int,
    "float": float,
    "boolean": bool,
    "date": date,
    "instant": datetime,
    "text": str,
    "json": list[dict[str, str | float]],  # the served JSON column: a score's reasons (core/reasons.py)
}


def struct(name: str, contract: Contract) -> type[msgspec.Struct]:
    """A response type with the contract's columns (core/contracts.py), so the API and the table never drift."""
    fields = [
        (c.name, PYTHON_TYPES[c.kind] if not c.nullable else PYTHON_TYPES[c.kind] | None) for c in contract.columns
    ]
    return msgspec.defstruct(name, fields, module=__name__)


# period: training (in-sample), holdout or prediction for the model that scored it; failed: the known outcome
if TYPE_CHECKING:  # built from the contract at import: a type checker sees a struct

    class Score(msgspec.Struct): ...

    class Past(msgspec.Struct): ...

else:
    Score = struct("Score", INSPECTION_SCORES)
    Past = struct(
        "Past",
        INSPECTION_SCORES.select(
            ["inspection_id", "week", "inspection_date", "score", "rank", "period", "failed", "model_version"]
        ),
    )


class Establishment(msgspec.Struct):
    license: int
    establishment: str
    facility_type: str | None
    current: Score
    inspections_scored: int
    history: list[Past]  # newest first, at most 100


class WeekScores(msgspec.Struct):
    week: date
    items: list[Score]
    next_cursor: str | None  # pass as `cursor` for the next page; null on the last page


class Group(msgspec.Struct):
    facility_type: str
    group_size: int
    fpr: float | None
    fdr: float | None
    fpr_disparity: float | None
    fdr_disparity: float | None
    fpr_parity: bool
    fdr_parity: bool


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
    backtest: list[dict[str, str | int | float | None]]  # per model: each cutoff and `pooled` (ROC AUC with its CI)
    ranking: dict[str, object] | None  # the deployed ranking policy (single or per-group thresholds) and why


SCORE_COLUMNS = ", ".join(Score.__struct_fields__)
