"""Violations that come back: the same violation number cited again at the same establishment within 2 years.

Numbers are compared within a numbering scheme (the city renumbered its items on 2018-07-01: an old 18 is not a new
18). Per inspection, `count` gives how many of its cited numbers had been cited at the establishment on an earlier
day within the 730 days before. Features read these counts from strictly earlier days only, like any history (the
last inspection's, and the total over the past 2 years): a number is compared with itself rather than made a column
of its own, because two schemes of 44-63 items, known for a tenth of the rows, would make a hundred sparse columns.
"""

import numpy as np
import pandas as pd

from chicago_food_assets.core import dates

REPEAT_DAYS = 730
CITATION_COLUMNS = ("inspection_id", "number", "scheme")
_NUMBER_SPAN = 1_000  # > any violation number: scheme * span + number is one code per (scheme, number)


def count(inspections: pd.DataFrame, citations: pd.DataFrame | None) -> np.ndarray:
    """Per row of `inspections` (inspection_id, establishment, inspection_date, critical_count): its repeated
    citations; NaN where its violations were not recorded (critical_count null), and everywhere without citations.

    `citations` (inspection_id, number, scheme) must hold every citation of the rows' establishments' inspections
    within the 2 years before each row."""
    recorded = inspections["critical_count"].notna().to_numpy()
    if citations is None:
        return np.full(len(inspections), np.nan)
    row = pd.Index(inspections["inspection_id"]).get_indexer(citations["inspection_id"])
    known = row >= 0
    row = row[known]
    scheme = (citations["scheme"].to_numpy(dtype=object)[known] == "new").astype(np.int64)
    number = scheme * _NUMBER_SPAN + citations["number"].to_numpy(dtype=np.int64)[known]
    place = pd.factorize(inspections["establishment"])[0].astype(np.int64)[row]
    group = pd.factorize(place * (_NUMBER_SPAN * 2) + number)[0].astype(np.int64)  # (establishment, scheme, number)
    day = dates.day_numbers(inspections["inspection_date"])[row]
    # the group's latest day strictly before each citation's day: the previous distinct (group, day) key
    keys, where = np.unique(dates.day_keys(group, day), return_inverse=True)
    same_group = np.r_[False, keys[1:] // dates.SPAN == keys[:-1] // dates.SPAN]
    previous_day = np.where(same_group, np.r_[0, keys[:-1] % dates.SPAN], -1)[where]
    repeated = (previous_day >= 0) & (day - previous_day <= REPEAT_DAYS)
    counts = np.bincount(row[repeated], minlength=len(inspections)).astype(float)
    return np.where(recorded, counts, np.nan)
