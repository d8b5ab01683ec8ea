"""What a place was cited for: each inspection's citations by subject (`declarations.subjects`), both numberings.

Per inspection, `count` gives how many of its cited numbers are of each subject; `own.build` totals them over the
establishment's strictly earlier days of the 730 before (`repeats.REPEAT_DAYS`), as it does repeated violations.
"""

import numpy as np
import pandas as pd

from chicago_food_assets.core.declarations.subjects import SUBJECTS

_NUMBER_SPAN = 1_000  # > any violation number: scheme * span + number is one code per (scheme, number)


def column(name: str) -> str:
    """The per-inspection count's column."""
    return f"{name}_cited"


COLUMNS = tuple(column(subject.name) for subject in SUBJECTS)


def count(inspections: pd.DataFrame, citations: pd.DataFrame | None) -> pd.DataFrame:
    """Per row of `inspections` (inspection_id, critical_count) and subject: its citations of that subject; NaN where
    its violations were not recorded (critical_count null), and everywhere without `citations` (inspection_id,
    number, scheme)."""
    recorded = inspections["critical_count"].notna().to_numpy()
    if citations is None:
        return pd.DataFrame({name: np.full(len(inspections), np.nan) for name in COLUMNS})
    row = pd.Index(inspections["inspection_id"]).get_indexer(citations["inspection_id"])
    known = row >= 0
    new = citations["scheme"].to_numpy(dtype=object)[known] == "new"
    code = new.astype(np.int64) * _NUMBER_SPAN + citations["number"].to_numpy(dtype=np.int64)[known]
    row = row[known]
    out = {}
    for subject, name in zip(SUBJECTS, COLUMNS, strict=True):
        codes = np.array([*subject.old, *(_NUMBER_SPAN + n for n in subject.new)], dtype=np.int64)
        cited = np.bincount(row[np.isin(code, codes)], minlength=len(inspections)).astype(float)
        out[name] = np.where(recorded, cited, np.nan)
    return pd.DataFrame(out)
