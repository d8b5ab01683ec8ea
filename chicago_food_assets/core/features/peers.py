"""What was known before an inspection about its peers: the other branches of its chain and its ZIP code.

- `chain_locations`: the chain's other establishments seen on earlier days.
- `chain_fail_rate`: the share of those other establishments' earlier inspections that failed.
- `zip_fail_rate`: the share of all inspections in the same ZIP code over the 90 days before that failed, shrunk
  toward the whole city's share over those days as if `PRIOR` more inspections had the city's rate (a ZIP code's
  3 inspections say little: 2 fails of 3 is 0.30 when the city fails a quarter, not 0.67).
- `zip_critical_rate`: the same for the share of those whose violations were recorded that found a critical one.
- `nearby_inspections`, `nearby_fail_rate`: the inspections within about a kilometre and a half (the 3 x 3 squares
  of `NEARBY_KM` around the place's) in the `NEARBY_DAYS` days before, and the share of them that failed, weighed
  toward the city's as the ZIP code's is: inspectors work by area and period, and what they found around a place
  lately says something of how the next visit there will go.

Strictly earlier days only, as for an establishment's own history. Vectorised: rows sorted by (group, day) and
totals between two positions of cumulative sums, found with `searchsorted`.
"""

import numpy as np
import pandas as pd

from chicago_food_assets.core import dates

ZIP_DAYS = 90  # the neighbourhood's recent window: [date - 90 days, date)
EVERY_EARLIER_DAY = dates.SPAN // 2  # a window longer than any history (and shorter than a group's key range)
PRIOR = 20  # the city's rate counts as this many inspections of a ZIP code's (the shrinkage of its rates)
NEARBY_KM = 1.0  # the side of the squares of the grid the nearby inspections are counted on
NEARBY_DAYS = 30  # the nearby inspections' recent window: [date - 30 days, date)
KM_PER_DEGREE = 111.2  # of latitude; of longitude, times the cosine of Chicago's latitude
CHICAGO_LATITUDE = 41.85
COUNTS = ("nearby_inspections",)  # the counts among the features built here (the rest come from own history)
# An optional integer column of the rows: independent cities in one build (the no-future check's worlds). The city-wide
# rates and the nearby squares are counted within a region; without the column, all rows are one city.
REGION = "region"


def earlier_totals(
    group: np.ndarray,
    day: np.ndarray,
    values: dict[str, np.ndarray],
    within: int | None = None,
    queried: int | None = None,
) -> dict[str, np.ndarray]:
    """Per row (of the first `queried`, when given): the sum of each of `values` over the rows of its `group` on
    strictly earlier days (within the `within` days before, when given). `group` holds integer codes, -1 for none
    (NaN there)."""
    return window_totals(group, day, values, [group], within if within else EVERY_EARLIER_DAY, queried)


def build(rows: pd.DataFrame, zip_known: pd.Series | None = None, queried: int | None = None) -> pd.DataFrame:
    """Peer features for every row of `rows` (inspection_date, establishment, chain, zip, latitude, longitude, failed,
    critical_count), in its order; for its first `queried` rows only, when given (the rest are their history: a
    week's list asks for 8,000 places against 250,000 rows of history).

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
    n = len(rows) if queried is None else queried
    whole = earlier_totals(chain, day, {"n": ones, "fails": failed, "locations": first}, queried=n)
    own = earlier_totals(branch, day, {"n": ones, "fails": failed, "seen": first}, queried=n)
    others = whole["n"] - own["n"]
    # rows count in the ZIP code they carry; each reads the window of the ZIP code known for it (`zip_known`: its own,
    # else its place's from an earlier day), so a row's totals never depend on how far back others' rows were read
    codes, zips = pd.factorize(rows["zip"])
    zip_code = codes.astype(np.int64)
    wanted = zip_code if zip_known is None else pd.Index(zips).get_indexer(zip_known.to_numpy()).astype(np.int64)
    critical = rows["critical_count"].to_numpy(dtype=float, na_value=np.nan)
    recorded = (~np.isnan(critical)).astype(float)  # inspections whose violations were recorded
    found = np.nan_to_num(critical) > 0
    counted = {"n": ones, "fails": failed, "recorded": recorded, "critical": found.astype(float)}
    region = rows[REGION].to_numpy(dtype=np.int64) if REGION in rows.columns else np.zeros(len(rows), dtype=np.int64)
    area = window_totals(zip_code, day, counted, [wanted], ZIP_DAYS, n)
    city = earlier_totals(region, day, counted, ZIP_DAYS, n)
    latitude = rows["latitude"].to_numpy(dtype=float, na_value=np.nan)
    longitude = rows["longitude"].to_numpy(dtype=float, na_value=np.nan)
    near = nearby_totals(latitude, longitude, region, day, {"n": ones, "fails": failed}, NEARBY_KM, NEARBY_DAYS, n)
    lately = earlier_totals(region, day, {"n": ones, "fails": failed}, NEARBY_DAYS, n)
    return pd.DataFrame(
        {
            "nearby_inspections": near["n"],
            "nearby_fail_rate": shrunk(near["fails"], near["n"], lately["fails"], lately["n"]),
            "chain_locations": whole["locations"] - own["seen"],
            "chain_fail_rate": np.where(others > 0, (whole["fails"] - own["fails"]) / np.maximum(others, 1), np.nan),
            "zip_fail_rate": shrunk(area["fails"], area["n"], city["fails"], city["n"]),
            "zip_critical_rate": shrunk(area["critical"], area["recorded"], city["critical"], city["recorded"]),
        },
        index=rows.index[:n],
    )


def shrunk(hits: np.ndarray, count: np.ndarray, city_hits: np.ndarray, city_count: np.ndarray) -> np.ndarray:
    """A ZIP code's rate with the city's rate counted as `PRIOR` more inspections: (hits + PRIOR x city rate) /
    (count + PRIOR). The city's rate alone where the ZIP code had none; null without a ZIP code or any inspection."""
    with np.errstate(invalid="ignore", divide="ignore"):
        city_rate = np.where(city_count > 0, city_hits / np.maximum(city_count, 1), np.nan)
        return (hits + PRIOR * city_rate) / (count + PRIOR)


def window_totals(
    group: np.ndarray,
    day: np.ndarray,
    values: dict[str, np.ndarray],
    wanted: list[np.ndarray],
    within: int,
    queried: int | None = None,
) -> dict[str, np.ndarray]:
    """Per row (of the first `queried`, when given; every row is counted): the sum of each of `values` over the rows
    (each belonging to its `group`) of the groups `wanted` names for it, one array of group codes per group to add
    up, on the `within` days before its day, strictly earlier. One sort; two searches per wanted group and queried
    row. NaN where a row's first wanted group is -1 (none)."""
    counted = group >= 0
    order = np.flatnonzero(counted)[np.lexsort((day[counted], group[counted]))]
    key = dates.day_keys(group[order], day[order])
    cumulative = {name: np.r_[0.0, np.cumsum(value[order], dtype=float)] for name, value in values.items()}
    asked = day[:queried]
    totals = {name: np.zeros(len(asked)) for name in values}
    for every in wanted:
        codes = every[:queried]
        upper = np.searchsorted(key, dates.day_keys(codes, asked), side="left")
        lower = np.searchsorted(key, dates.day_keys(codes, asked - within), side="left")
        for name in values:
            totals[name] += np.where(codes < 0, 0.0, cumulative[name][upper] - cumulative[name][lower])
    return {name: np.where(wanted[0][:queried] < 0, np.nan, total) for name, total in totals.items()}


def nearby_totals(
    latitude: np.ndarray,
    longitude: np.ndarray,
    region: np.ndarray,
    day: np.ndarray,
    values: dict[str, np.ndarray],
    km: float,
    within: int,
    queried: int | None = None,
) -> dict[str, np.ndarray]:
    """Per row (of the first `queried`, when given): the sum of each of `values` over the rows of its region in the
    3 x 3 squares of a `km` grid around its own, on the `within` days before its day (strictly earlier days): one
    `window_totals` over the nine squares. Null where a row has no coordinates."""
    located = np.isfinite(latitude) & np.isfinite(longitude)
    y = np.floor(np.where(located, latitude, 0.0) * KM_PER_DEGREE / km).astype(np.int64)
    x_scale = KM_PER_DEGREE * np.cos(np.radians(CHICAGO_LATITUDE)) / km
    x = np.floor(np.where(located, longitude, 0.0) * x_scale).astype(np.int64)
    if not located.any():
        return {name: np.full(len(day[:queried]), np.nan) for name in values}
    # a square's code; the grid is padded by one square on every side, so a neighbour's code never wraps around
    y0, x0 = y[located].min() - 1, x[located].min() - 1
    height, width = int(y[located].max() - y0 + 2), int(x[located].max() - x0 + 2)
    square = np.where(located, (region - region.min()) * (width * height) + (x - x0) * height + (y - y0), -1)
    asked, at = square[:queried], located[:queried]  # only the asked rows look around; every row is counted
    around = [np.where(at, asked + dx * height + dy, -1) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
    return window_totals(square, day, values, around, within, queried)
