"""The seed's data tests (size, no infinities, shape) as reusable Dagster asset checks.

Each check is evaluated inline by the asset on exactly the partition or range it writes, so a backfill checks what it
wrote and nothing else. An error-severity check is blocking: it stops what is downstream within the run.
Every check, here and next to its asset, is the same small declaration (its settings, name, description, severity,
`evaluate`): the repeated shape is the one style of checks, not copied logic.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey

Severity = Literal["warn", "error"]


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    severity: Severity

    def spec(self, asset: str | AssetKey) -> AssetCheckSpec:
        return AssetCheckSpec(self.name, asset=asset, description=self.description, blocking=self.severity == "error")

    def result(self, asset: str | AssetKey, passed: bool, metadata: dict) -> AssetCheckResult:
        return AssetCheckResult(
            check_name=self.name,
            asset_key=AssetKey.from_coercible(asset),
            passed=bool(passed),
            severity=AssetCheckSeverity.ERROR if self.severity == "error" else AssetCheckSeverity.WARN,
            metadata=metadata,
        )

    def evaluate(self, asset: str | AssetKey, frame: pd.DataFrame, size: int) -> AssetCheckResult:
        raise NotImplementedError


@dataclass(frozen=True)
class Rule(Check):
    """A check that is one measure of the frame: `measure` returns whether it passed and what it counted."""

    measure: Callable[[pd.DataFrame], tuple[bool, dict]] = lambda frame: (True, {})

    def evaluate(self, asset: str | AssetKey, frame: pd.DataFrame, size: int) -> AssetCheckResult:
        passed, metadata = self.measure(frame)
        return self.result(asset, passed, metadata)


@dataclass(frozen=True)
class SizeCheck(Check):
    """Stored bytes at least `min_bytes`."""

    min_bytes: int = 1
    name: str = "size"
    description: str = "the data written is at least a minimum number of bytes"
    severity: Severity = "warn"

    def evaluate(self, asset: str | AssetKey, frame: pd.DataFrame, size: int) -> AssetCheckResult:
        return self.result(asset, size >= self.min_bytes, {"bytes": size, "min_bytes": self.min_bytes})


@dataclass(frozen=True)
class NoInfinityCheck(Check):
    """No +/-inf in numeric columns; `columns` are read as numbers first (for raw string columns)."""

    columns: tuple[str, ...] = ()
    name: str = "no_infinity"
    description: str = "no numeric column holds +/-infinity"
    severity: Severity = "error"

    def evaluate(self, asset: str | AssetKey, frame: pd.DataFrame, size: int) -> AssetCheckResult:
        numbers = frame.select_dtypes(include="number")
        extra = {name: pd.to_numeric(frame[name], errors="coerce") for name in self.columns if name in frame.columns}
        numbers = numbers.assign(**extra) if extra else numbers
        infinite = {
            name: int(np.isinf(numbers[name].to_numpy(dtype=float, na_value=np.nan)).sum()) for name in numbers.columns
        }
        bad = {name: count for name, count in infinite.items() if count}
        return self.result(asset, not bad, {"columns_checked": len(infinite), "infinite_values": bad or "none"})


@dataclass(frozen=True)
class ShapeCheck(Check):
    """Expected columns present and the row count within [min_rows, max_rows]."""

    columns: tuple[str, ...] = ()
    min_rows: int = 0
    max_rows: int | None = None
    name: str = "shape"
    description: str = "expected columns are present and the row count is within bounds"
    severity: Severity = "error"

    def evaluate(self, asset: str | AssetKey, frame: pd.DataFrame, size: int) -> AssetCheckResult:
        missing = [name for name in self.columns if name not in frame.columns]
        rows = len(frame)
        within = rows >= self.min_rows and (self.max_rows is None or rows <= self.max_rows)
        return self.result(
            asset,
            not missing and within,
            {
                "rows": rows,
                "columns": frame.shape[1],
                "missing_columns": missing or "none",
                "min_rows": self.min_rows,
                "max_rows": self.max_rows if self.max_rows is not None else "none",
            },
        )


@dataclass(frozen=True)
class QualityChecks:
    """The checks attached to one asset."""

    asset: str | AssetKey
    checks: Sequence[Check] = field(default_factory=tuple)

    @property
    def specs(self) -> list[AssetCheckSpec]:
        return [check.spec(self.asset) for check in self.checks]

    def evaluate(self, frame: pd.DataFrame, size: int | None = None) -> Iterable[AssetCheckResult]:
        """Results for what was written; `size` defaults to the frame's in-memory bytes."""
        size = int(frame.memory_usage(deep=True).sum()) if size is None else size
        return [check.evaluate(self.asset, frame, size) for check in self.checks]
