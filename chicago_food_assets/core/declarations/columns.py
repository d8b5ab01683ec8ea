"""What a table's declaration is made of (Column, Contract) and how a frame is held to it (`Contract.conform`).

The declarations themselves are in `contracts.py` beside it; the kinds a column may have, with their type in each layer,
in `core/declarations/kinds.py`.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from chicago_food_assets.core.declarations.kinds import KINDS, Kind


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
    shape: Any = None  # a json column's value as the API serves it, where it is not a score's reasons

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name}: unknown kind {self.kind!r} (one of {sorted(KINDS)})")

    @property
    def type(self) -> Kind:
        return KINDS[self.kind]

    @property
    def dtype(self) -> object:
        if self.kind == "boolean" and not self.nullable:
            return "bool"
        return self.type.pandas

    @property
    def postgres(self) -> str:
        return self.type.postgres

    @property
    def python(self) -> Any:
        """The served value's Python type (None allowed where the column is nullable)."""
        value = self.shape if self.shape is not None else self.type.python
        return value | None if self.nullable else value


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

    def select(self, names: Sequence[str]) -> "Contract":
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
        if pd.api.types.is_datetime64_any_dtype(series.dtype):  # as to_datetime would give it, without its cache
            # probe (which turns every value into a Timestamp object: 3 s of the demo)
            naive = series.dt.tz is None
            values = series.dt.tz_localize("UTC") if naive and column.kind == "instant" else series
            values = values.dt.tz_convert("UTC") if not naive and column.kind == "instant" else values
        else:
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


def contract(
    name: str, description: str, *columns: Column, partition: str | None = "week", indexes: tuple[str, ...] = ()
) -> Contract:
    return Contract(name, description, tuple(columns), partition, indexes)
