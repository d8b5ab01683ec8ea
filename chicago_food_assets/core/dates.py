"""Inspection days as integers, and sort keys that keep each group's days in order (features, peers, repeats)."""

import numpy as np
import pandas as pd

FIRST_WEEK = "2010-01-04"  # a Monday: the first week of the dataset, the first weekly partition
TIMEZONE = "America/Chicago"  # inspection dates are Chicago days; a week ends at Chicago's midnight
SPAN = 1_000_000  # > days since 1970 for any inspection date: code * SPAN + day orders the days within each code


def day_numbers(dates: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 as int64."""
    return dates.to_numpy(dtype="datetime64[D]").astype(np.int64)


def day_keys(codes: np.ndarray, day: np.ndarray) -> np.ndarray:
    """One int64 per (code, day), ordered by code, then day."""
    return codes.astype(np.int64) * SPAN + day
