"""What was known before an inspection about its peers: the other branches of its chain and its ZIP code.

- `chain_locations`: the chain's other establishments seen on earlier days.
- `chain_fail_rate`: the share of those other establishments' earlier inspections that failed.
- `zip_fail_rate`: the share of all inspections in the same ZIP code over the 90 days before that failed.
- `zip_critical_rate`: the share of those whose violations were recorded that found a critical violation.

Strictly earlier days only, as for an establishment's own history. Vectorised: rows sorted by (group, day) and
totals between two positions of cumulative sums, found with `searchsorted`.
"""

import numpy as np
import pandas as pd

from chicago_food_assets.core import dates

ZIP_DAYS = 90  # the neighbourhood's recent window: [date - 90 days, date)


def earlier_totals(
    group: np.ndarray, day: np.ndarray, values: dict[str, np.ndarray], within: int | None = None
) -> dict[str, np.ndarray]:
    """Per row: the sum of each of `values` over the rows of its `group` on strictly earlier days (within the
    `within` days before, when given). `group` holds integer codes, -1 for none (NaN there)."""
    order = np.lexsort((day, group))
    key = dates.day_keys(group[order], day[order])
    own_day = np.searchsorted(key, key, side="left")  # the first row of the same (group, day): excluded
    lowest: np.ndarray = key - within if within else dates.day_keys(group[order], np.zeros(len(order), np.int64))
    start = np.searchsorted(key, lowest, side="left")
    totals = {}
    for name, value in values.items():
        cumulative = np.r_[0.0, np.cumsum(value[order], dtype=float)]
        total = np.empty(len(order))
        total[order] = cumulative[own_day] - cumulative[start]
        totals[name] = np.where(group < 0, np.nan, total)
    return totals


def build(rows: pd.DataFrame) -> pd.DataFrame:
    """Peer features for every row of `rows` (inspection_date, establishment, chain, zip, failed, critical_count),
    in its order.

    `rows` must hold every earlier inspection of each row's chain, and every inspection of the 90 days before it."""
    day = dates.day_numbers(rows["inspection_date"])
    failed = rows["failed"].to_numpy(dtype=float)
    ones = np.ones(len(rows))
    chain = pd.factorize(rows["chain"])[0]
    place = pd.factorize(rows["establishment"])[0].astype(np.int64)
    branch = np.where(chain < 0, -1, pd.factorize(chain * (len(rows) + 1) + place)[0])  # (chain, establishment)
    # a branch's first row by day: it counts among the chain's locations from the next day on
    first = np.zeros(len(rows))
    if len(rows):
        order = np.lexsort((day, branch))
        first[order[np.r_[True, branch[order][1:] != branch[order][:-1]]]] = 1.0
    whole = earlier_totals(chain, day, {"n": ones, "fails": failed, "locations": first})
    own = earlier_totals(branch, day, {"n": ones, "fails": failed, "seen": first})
    others = whole["n"] - own["n"]
    zip_code = pd.factorize(rows["zip"])[0]
    critical = rows["critical_count"].to_numpy(dtype=float, na_value=np.nan)
    recorded = (~np.isnan(critical)).astype(float)  # inspections whose violations were recorded
    found = np.nan_to_num(critical) > 0
    area = earlier_totals(
        zip_code, day, {"n": ones, "fails": failed, "recorded": recorded, "critical": found.astype(float)}, ZIP_DAYS
    )
    return pd.DataFrame(
        {
            "chain_locations": whole["locations"] - own["seen"],
            "chain_fail_rate": np.where(others > 0, (whole["fails"] - own["fails"]) / np.maximum(others, 1), np.nan),
            "zip_fail_rate": np.where(area["n"] > 0, area["fails"] / np.maximum(area["n"], 1), np.nan),
            "zip_critical_rate": np.where(
                area["recorded"] > 0, area["critical"] / np.maximum(area["recorded"], 1), np.nan
            ),
        },
        index=rows.index,
    )
