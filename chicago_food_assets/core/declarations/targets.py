"""What a model predicts: a failed inspection (ours), or a critical violation found (the City of Chicago's).

Each target is a column of the features table, computed from the inspection's own result and violations (never a
feature). `critical_found` is unknown when the inspection's violations were not recorded: those rows are left out
of fitting and of every metric for that target, and still scored.
"""

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Target:
    name: str
    description: str  # what a positive is, for the model card and the API
    event: str  # the positive in a few words, as in "<score> chance that the next inspection <event>"
    found: str  # the positives, counted: "fails", "critical findings"
    nullable: bool  # unknown for some inspections


TARGETS = {
    target.name: target
    for target in (
        Target("failed", "the inspection fails (`results` is `Fail`)", "fails", "fails", False),
        Target(
            "critical_found",
            "the inspection finds at least one critical violation (items 1-14 of the old numbering) or priority "
            "violation (the new numbering from 2018-07-01); unknown when its violations were not recorded",
            "finds a critical violation",
            "critical findings",
            True,
        ),
    )
}
DEFAULT = "failed"
OUTCOME = "outcome"  # the chosen target's value, in the holdout and backtest frames of a model


def check(name: str) -> Target:
    """The target called `name`, or a ValueError that lists the choices."""
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r}: choose one of {', '.join(TARGETS)}")
    return TARGETS[name]


def values(inspections: pd.DataFrame) -> dict[str, pd.Series]:
    """Every target's value per clean inspection (`failed`, `critical_count`): boolean, null when unknown."""
    critical = inspections["critical_count"].astype("Int16")
    return {
        "failed": inspections["failed"].astype(bool).reset_index(drop=True),
        "critical_found": (critical > 0).astype("boolean").reset_index(drop=True),
    }
