"""Every table's declared contract: its columns, their types and nullability, its partition column.

The one place a table's shape is written down. From a contract come the column lists core and the checks use,
the pandas dtypes a frame is conformed to, the PostgreSQL DDL and COPY types of the IO manager, the dagster-pandas
type and the `dagster/column_schema` metadata (in `chicago_food_assets.types`), and the columns the service and the
dashboard select. Types never come from data: an empty week, an all-null column or a first week without rejects
make the same table as a full week.
Tables that carry the same columns (ids, weeks, dates, scores) declare them again: each table's list is read top to
bottom as its declaration, so those repeated lines are declarations, not logic.
"""

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from chicago_food_assets.core import catalog
from chicago_food_assets.core.arrow import TEXT

SCHEMA = "food"  # the PostgreSQL schema every table lives in

# kind -> (pandas dtype, PostgreSQL type). Integers are nullable pandas integers; texts are Arrow strings;
# `json` is JSON text in pandas and `jsonb` in PostgreSQL; `date` is a day (datetime64 at midnight).
KINDS: dict[str, tuple[object, str]] = {
    "bigint": ("Int64", "bigint"),
    "integer": ("Int32", "integer"),
    "smallint": ("Int16", "smallint"),
    "float": ("float64", "double precision"),
    "boolean": ("boolean", "boolean"),
    "date": ("datetime64[ns]", "date"),
    "instant": ("datetime64[ns, UTC]", "timestamptz"),
    "text": (TEXT, "text"),
    "json": (TEXT, "jsonb"),
}


def json_text(value: object) -> str:
    """JSON for a `json` column: NaN and infinities (which JSON has no words for) become null."""

    def finite(item: object) -> object:
        if isinstance(item, float) and not np.isfinite(item):
            return None
        if isinstance(item, dict):
            return {key: finite(inner) for key, inner in item.items()}
        if isinstance(item, list | tuple):
            return [finite(inner) for inner in item]
        return item

    return json.dumps(finite(value), default=str)


class ContractError(ValueError):
    """A frame does not have its table's declared shape; the message names the columns."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    nullable: bool = True
    description: str = ""
    bounds: tuple[float | None, float | None] | None = None  # inclusive range of values, when it means something
    values: frozenset[str] | None = None  # the allowed values of a text column
    unique: bool = False
    formerly: str | None = None  # the column's earlier name: a stored table is renamed in place

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name}: unknown kind {self.kind!r} (one of {sorted(KINDS)})")

    @property
    def dtype(self) -> object:
        if self.kind == "boolean" and not self.nullable:
            return "bool"
        return KINDS[self.kind][0]

    @property
    def postgres(self) -> str:
        return KINDS[self.kind][1]


@dataclass(frozen=True)
class Contract:
    name: str
    description: str
    columns: tuple[Column, ...]
    partition: str | None = "week"  # the date column a weekly table is partitioned by
    indexes: tuple[str, ...] = ()  # columns looked up by the service

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def postgres_types(self) -> dict[str, str]:
        return {column.name: column.postgres for column in self.columns}

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)

    def select(self, names: tuple[str, ...] | list[str]) -> "Contract":
        """The same table, reading only some columns."""
        return Contract(self.name, self.description, tuple(self.column(n) for n in names), self.partition, ())

    def empty(self) -> pd.DataFrame:
        """A frame with no rows and the declared columns and dtypes."""
        return pd.DataFrame({c.name: pd.Series(dtype=c.dtype) for c in self.columns})

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame with exactly the declared columns, in order, cast to the declared dtypes.

        Refuses (ContractError) missing or undeclared columns, values that do not fit their type and nulls in
        columns declared not nullable: a frame that passes is a frame the table stores without surprise.
        """
        missing = [name for name in self.names if name not in frame.columns]
        extra = [str(name) for name in frame.columns if name not in self.names]
        if missing or extra:
            raise ContractError(
                f"{self.name}: "
                + "; ".join(
                    part
                    for part in (
                        f"columns missing: {missing}" if missing else "",
                        f"columns not in the contract: {extra}" if extra else "",
                    )
                    if part
                )
            )
        out = {}
        for column in self.columns:
            try:
                out[column.name] = _cast(frame[column.name], column)
            except (TypeError, ValueError, OverflowError) as error:
                raise ContractError(f"{self.name}.{column.name} ({column.kind}): {error}") from error
            if not column.nullable and out[column.name].isna().any():
                raise ContractError(
                    f"{self.name}.{column.name} is declared not nullable but has "
                    f"{int(out[column.name].isna().sum())} nulls"
                )
        return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def _cast(series: pd.Series, column: Column) -> pd.Series:
    dtype = column.dtype
    if column.kind in ("date", "instant"):
        values = pd.to_datetime(series, utc=column.kind == "instant")
        if column.kind == "date" and values.dt.tz is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return values.astype(dtype)
    if column.kind == "float":
        return pd.to_numeric(series, errors="raise").astype("float64")
    if column.kind in ("bigint", "integer", "smallint"):
        if series.dtype == object or isinstance(series.dtype, pd.StringDtype):
            series = pd.to_numeric(series, errors="raise")
        if pd.api.types.is_float_dtype(series.dtype):
            finite = series.dropna()
            if not np.all(np.isfinite(finite)) or not np.all(finite == np.round(finite)):
                raise ValueError("has values that are not whole numbers")
        return series.astype(dtype)
    if column.kind == "boolean":
        return series.astype(dtype)
    return series.astype(dtype)  # text and json


# The declarations below look alike by design (one column a line, the same few kinds): they are data, not logic.
def contract(
    name: str, description: str, *columns: Column, partition: str | None = "week", indexes: tuple[str, ...] = ()
) -> Contract:
    return Contract(name, description, tuple(columns), partition, indexes)


def _counts(*names: str, kind: str = "smallint") -> tuple[Column, ...]:
    return tuple(Column(name, kind, bounds=(0, None)) for name in names)


C = Column
VIOLATION_COUNTS = ("critical_count", "serious_count", "minor_count", "violation_count")

CLEAN_INSPECTIONS = contract(
    "clean_inspections",
    "One typed row per inspection with an outcome; violations counted by severity.",
    C("inspection_id", "bigint", False, bounds=(1, None), unique=True),
    C("week", "date", False),
    C("inspection_date", "date", False),
    C("license", "bigint", False, "0 is Chicago's 'none'", bounds=(0, None)),
    C("establishment", "text", False, "license:<n>, or name:<NAME>|<ADDRESS> when the license is 0"),
    C("chain", "text", description="the business across its licenses: the name without store numbers or suffixes"),
    C("dba_name", "text"),
    C("aka_name", "text"),
    C("address", "text"),
    C("zip", "text"),
    C("latitude", "float", False, bounds=(-90, 90)),
    C("longitude", "float", False, bounds=(-180, 180)),
    C("outside_chicago", "boolean", False),
    C("facility_type", "text", False),
    C("facility_type_raw", "text"),
    C("risk", "smallint", bounds=(1, 3)),
    C("inspection_type", "text"),
    C("inspection_kind", "text", False),
    C("reinspection", "boolean", False),
    C("results", "text", False, values=frozenset({"Pass", "Pass w/ Conditions", "Fail"})),
    C("failed", "boolean", False),
    C("violations_recorded", "boolean", False),
    *_counts(*VIOLATION_COUNTS),
    indexes=("inspection_id", "establishment", "chain"),
)

INSPECTION_VIOLATIONS = contract(
    "inspection_violations",
    "Cited violation items, long: inspection_id, number, severity, scheme (old before 2018-07-01).",
    C("week", "date", False),
    C("inspection_id", "bigint", False),
    C("number", "smallint", False, bounds=(1, 99)),
    C(
        "severity",
        "text",
        False,
        values=frozenset({"critical", "serious", "minor", "priority", "priority_foundation", "core", "unknown"}),
    ),
    C("scheme", "text", False, "old before 2018-07-01, new from then", values=frozenset({"old", "new"})),
    indexes=("inspection_id",),  # a week's features read its establishments' earlier citations by id
)

INSPECTION_REJECTS = contract(
    "inspection_rejects",
    "Raw rows the cleaner could not parse, with the reason and the row as received (JSON).",
    C("week", "date", False, "the week of the row's date, else of the range it was fetched for"),
    C("inspection_id", "text", True, "as received"),
    C("reason", "text", False),
    C("row", "json", False, "the row as received"),
)

INSPECTION_FEATURES = contract(
    "inspection_features",
    "Identifiers, leakage-free features and the target `failed` (see core/features.py).",
    C("inspection_id", "bigint", False, bounds=(1, None), unique=True),
    C("week", "date", False),
    C("inspection_date", "date", False),
    C("establishment", "text", False),
    C("license", "bigint", False),
    *(C(f.name, f.kind, f.nullable, f.description, bounds=f.bounds) for f in catalog.FEATURES),
    C("failed", "boolean", False),
)

INSPECTION_SCORES = contract(
    "inspection_scores",
    "The selected model's score of each inspection, its rank in the week (1 = riskiest), and the known outcome.",
    C("inspection_id", "bigint", False),
    C("license", "bigint", False),
    C("establishment", "text", False),
    C("week", "date", False),
    C("inspection_date", "date", False),
    C("facility_type", "text"),
    C("score", "float", False),
    C("rank", "integer", False),
    C("model_version", "text", False),
    C("period", "text", False, "training, holdout or prediction, for the model that scored it"),
    C("failed", "boolean", False),
    C("reasons", "json", description="the features raising the score most, in plain words (core/reasons.py)"),
    indexes=("inspection_id", "license"),
)

SCORE_MONITORING = contract(
    "score_monitoring",
    "Per week and facility type (and All): the score distribution against the training weeks', PSI, the fail rate.",
    C("week", "date", False),
    C("facility_type", "text", False),
    C("count", "bigint", False),
    C("mean", "float"),
    C("p10", "float"),
    C("p25", "float"),
    C("p50", "float"),
    C("p75", "float"),
    C("p90", "float"),
    C("histogram", "json", False),
    C("training_count", "bigint", False, "scores of the training weeks in the group", formerly="reference_count"),
    C("training_mean", "float", formerly="reference_mean"),
    C("training_histogram", "json", False, "the training weeks' score histogram", formerly="reference_histogram"),
    C("psi", "float"),
    C("fail_rate", "float"),
    C("model_version", "text", False),
)

ESTABLISHMENT_RISK = contract(
    "establishment_risk",
    "The latest score of each establishment, for lookups.",
    *INSPECTION_SCORES.columns,
    C("inspections_scored", "bigint", False),
    partition=None,
    indexes=("license",),
)

CURRENT_MODEL = contract(
    "current_model",
    "The published model: version, windows, holdout metrics, training score distribution, library versions.",
    C("model_version", "text", False),
    C("name", "text", False),
    C("metric", "text", False),
    C("refit", "boolean", False),
    C("first_week", "date", False),
    C("cutoff", "date", False),
    C("holdout_end", "date", False),
    C("train_rows", "bigint", False),
    C("holdout_rows", "bigint", False),
    C("metrics", "json", False),
    C("features", "json", False),
    C("training_scores", "json", False, "the training score distribution, for drift"),
    C("libraries", "json", False),
    C("published_at", "instant", False),
    C("selected_because", "text", description="why this candidate: the backtest's rule (core/selection.choice)"),
    C("backtest", "json", description="rolling-origin backtest: per model, per cutoff and pooled"),
    C("calibration", "json", description="the Platt map, where it was fitted, and the holdout's reliability by decile"),
    C("ranking", "json", description="the deployed ranking policy, why, and its effect (core/fairness.decide)"),
    partition=None,
)

FAIRNESS_AUDIT = contract(
    "fairness_audit",
    "FPR/FDR and disparities by facility type against Restaurant, at the operating threshold (aequitas).",
    C("facility_type", "text", False),
    C("group_size", "bigint", False),
    C("prevalence", "float"),
    C("flagged", "bigint"),
    C("tpr", "float"),
    C("fpr", "float"),
    C("fdr", "float"),
    C("fnr", "float"),
    C("precision", "float"),
    C("fpr_disparity", "float"),
    C("fdr_disparity", "float"),
    C("fpr_parity", "boolean"),
    C("fdr_parity", "boolean"),
    C("reference", "boolean"),
    C("threshold", "float"),
    C("model_version", "text", False),
    partition=None,
)

CONTRACTS: dict[str, Contract] = {
    c.name: c
    for c in (
        CLEAN_INSPECTIONS,
        INSPECTION_VIOLATIONS,
        INSPECTION_REJECTS,
        INSPECTION_FEATURES,
        INSPECTION_SCORES,
        SCORE_MONITORING,
        ESTABLISHMENT_RISK,
        CURRENT_MODEL,
        FAIRNESS_AUDIT,
    )
}
