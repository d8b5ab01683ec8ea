"""Leakage-free features: only what is known before the inspection date.

For every inspection, the establishment's *earlier* inspections (strictly earlier dates: two inspections on the same
day never see each other) give counts, fails, days since the last one, the last result and its violation counts, and
totals over the year before. The inspection's own violations and result are never inputs; `failed` is the target.
Vectorised: inspections are collapsed to (establishment, day), cumulative sums are shifted by one day-group, and
windows over the last 365 days come from `searchsorted` on a sorted (establishment, day) key.
"""

import numpy as np
import pandas as pd

from chicago_food_assets.core import dates
from chicago_food_assets.core.arrow import integers
from chicago_food_assets.core.declarations import canvass, catalog, targets
from chicago_food_assets.core.declarations.contracts import INSPECTION_FEATURES
from chicago_food_assets.core.declarations.subjects import SUBJECTS, feature_name
from chicago_food_assets.core.features import peers, repeats, subjects

IDENTIFIERS = ("inspection_id", "week", "inspection_date", "establishment", "license")
# Which columns the models read, as numbers or categories, in which order (part of a model's settings and version),
# and which count inspections or violations: all from the features' declarations (core/declarations/catalog.py).
NUMERIC, CATEGORICAL, COUNTS = catalog.NUMERIC, catalog.CATEGORICAL, catalog.COUNTS
FEATURES = NUMERIC + CATEGORICAL
BUILT = (*FEATURES, *catalog.CANDIDATES)  # every feature column: the inputs and the candidates
COLUMNS = INSPECTION_FEATURES.names

# What features read from the clean table (for the history query): never violations text or the current result.
HISTORY_COLUMNS = (
    "inspection_id",
    "week",
    "inspection_date",
    "establishment",
    "chain",
    "zip",
    "latitude",
    "longitude",
    "results",
    "failed",
    "inspection_kind",
    "reinspection",
    "critical_count",
    "serious_count",
    "minor_count",
)
# the no-future check rebuilds its sampled days' worlds this many at a time: each world holds the city's 90 days
# before its day, so a range's 200 sampled rows were a build of a million rows at once (the full run's peak)
WORLDS_AT_ONCE = 25
SEASONS = np.array(
    ["winter", "winter", "spring", "spring", "spring", "summer", "summer", "summer", "fall", "fall", "fall", "winter"]
)


def build(
    inspections: pd.DataFrame, history: pd.DataFrame | None = None, citations: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Features for every row of `inspections`; `history` holds earlier clean rows: all of the same establishments'
    and chains', and every inspection of the 90 days before the first row (see `peers`). `citations` are the cited
    violations (inspection_id, number, scheme) of both; without them repeated violations are unknown (null)."""
    frames = [_read(inspections)]
    if history is not None and len(history):
        frames.append(_read(history))
    # the current rows come first and keep their positions 0..n-1
    combined = pd.concat(frames, ignore_index=True).drop_duplicates("inspection_id", keep="first")
    zip_known = zip_as_known(combined)
    combined["repeats"] = repeats.count(combined, citations)
    for name, cited in subjects.count(combined, citations).items():
        combined[name] = cited.to_numpy()
    days, row_day = _day_table(combined)
    known = _history_by_day(days).iloc[row_day[: len(inspections)]].reset_index(drop=True)

    out = inspections[list(IDENTIFIERS)].reset_index(drop=True)
    history_counts = (name for name in COUNTS if name not in peers.COUNTS)  # the rest are peers'
    for name in (*history_counts, "days_since_last", "days_since_critical", "days_since_canvass", "establishment_age"):
        out[name] = integers(known[name], "Int32")
    # against the risk's canvass frequency, counted as the visit list counts it: from the last canvass, else from
    # the last inspection (null for a first inspection)
    since = known["days_since_canvass"].fillna(known["days_since_last"]).to_numpy(dtype=float)
    out["days_overdue"] = integers(since - canvass.frequency(inspections["risk"].reset_index(drop=True)), "Int32")
    prior = known["prior_inspections"].to_numpy()
    peer = peers.build(combined, zip_known, len(inspections)).reset_index(drop=True)
    out["chain_locations"] = integers(peer["chain_locations"], "Int32")
    out["chain_fail_rate"] = peer["chain_fail_rate"].to_numpy()
    out["zip_fail_rate"] = peer["zip_fail_rate"].to_numpy()
    out["zip_critical_rate"] = peer["zip_critical_rate"].to_numpy()
    out["nearby_inspections"] = integers(peer["nearby_inspections"], "Int32")
    out["nearby_fail_rate"] = peer["nearby_fail_rate"].to_numpy()
    out["prior_fail_rate"] = np.where(prior > 0, known["prior_fails"].to_numpy() / np.maximum(prior, 1), np.nan)
    out["last_failed"] = known["last_failed"].array
    reinspection = inspections["reinspection"].to_numpy(dtype=bool)
    out["reinspection"] = reinspection
    # a re-inspection's place in its chain: 1 after the original, 2 after a failed re-inspection, ...; 0 for others
    out["reinspection_number"] = integers(
        np.where(reinspection, known["reinspections_in_a_row"].to_numpy(dtype=float) + 1, 0), "Int16"
    )
    out["reinspection_after_failed_canvass"] = (
        reinspection
        & (known["last_kind"].to_numpy(dtype=object) == "canvass")
        & known["last_failed"].fillna(False).to_numpy(dtype=bool)
    )
    out["risk"] = inspections["risk"].astype("Int16").array
    out["latitude"] = inspections["latitude"].to_numpy(dtype=float)
    out["longitude"] = inspections["longitude"].to_numpy(dtype=float)
    month = inspections["inspection_date"].dt.month.to_numpy()
    out["month"] = integers(month, "Int16")
    for name in ("inspection_kind", "facility_type"):
        out[name] = inspections[name].to_numpy()
    out["zip"] = zip_known.iloc[: len(inspections)].to_numpy()
    out["last_result"] = known["last_result"].to_numpy()
    out["season"] = SEASONS[month - 1]
    # seasonality by kind of place: a category of its own, so that a linear model can learn it too
    facility = inspections["facility_type"].astype(object).to_numpy()
    out["facility_season"] = np.where(pd.isna(facility), None, facility.astype(str) + " in " + out["season"].to_numpy())
    for name, value in targets.values(inspections).items():  # the inspection's own outcome: never an input
        out[name] = value.array
    return out[list(COLUMNS)]


def zip_as_known(rows: pd.DataFrame) -> pd.Series:
    """Each row's ZIP code, else its establishment's latest one from an earlier day: some extracts dropped the
    column, and a place does not move (the same day's rows are not read, as for every feature)."""
    zip_code = rows["zip"]
    missing = zip_code.isna().to_numpy()
    if not missing.any():
        return zip_code
    place = pd.factorize(rows["establishment"])[0].astype(np.int64)
    key = dates.day_keys(place, dates.day_numbers(rows["inspection_date"]))
    known = ~missing & (place >= 0)
    if not known.any():  # no row carries a ZIP code: nothing to take one from
        return zip_code
    order = np.argsort(key[known], kind="stable")
    sorted_keys, sorted_zips = key[known][order], zip_code.to_numpy(dtype=object)[known][order]
    before = np.searchsorted(sorted_keys, key[missing], side="left") - 1  # the last known row of an earlier day
    same_place = (before >= 0) & (sorted_keys[np.maximum(before, 0)] // dates.SPAN == place[missing])
    filled = zip_code.to_numpy(dtype=object).copy()
    filled[np.flatnonzero(missing)[same_place]] = sorted_zips[before[same_place]]
    return pd.Series(filled, index=rows.index, dtype=zip_code.dtype)


def _read(rows: pd.DataFrame) -> pd.DataFrame:
    """What `build` reads of clean rows: HISTORY_COLUMNS, and `peers.REGION` where given."""
    return rows[[*HISTORY_COLUMNS, *([peers.REGION] if peers.REGION in rows.columns else [])]]


def history_needed(inspections: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """The rows of `history` that `build` reads for `inspections`: the same establishments' and chains', and every
    inspection of the ZIP window before the first of them (the rest cannot change a feature)."""
    if inspections.empty:
        return history.iloc[:0]
    since = inspections["inspection_date"].min() - pd.Timedelta(days=peers.ZIP_DAYS)
    chains = inspections["chain"].dropna().unique()
    wanted = (
        history["establishment"].isin(inspections["establishment"].unique()).to_numpy(dtype=bool)
        | history["chain"].isin(chains).fillna(False).to_numpy(dtype=bool)
        | (history["inspection_date"] >= since).to_numpy(dtype=bool)
    )
    return history[wanted]


def _day_table(rows: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per (establishment, inspection day), sorted, and for each input row the position of its day.

    The day's last inspection (highest id) gives its result and kind.
    """
    code = pd.factorize(rows["establishment"])[0].astype(np.int64)
    day = dates.day_numbers(rows["inspection_date"])
    order = np.lexsort((rows["inspection_id"].to_numpy(dtype=np.int64), day, code))
    code, day = code[order], day[order]
    key = dates.day_keys(code, day)
    boundary = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, dtype=bool)
    starts = np.flatnonzero(boundary)
    ends = np.r_[starts[1:], len(key)][: len(starts)] - 1
    row_day = np.empty(len(order), dtype=np.int64)
    row_day[order] = np.cumsum(boundary) - 1

    def total(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values[order], starts) if len(starts) else values[:0].astype(float)

    severities = {
        name: rows[f"{name}_count"].to_numpy(dtype=float, na_value=np.nan) for name in ("critical", "serious", "minor")
    }
    recorded = total((~np.isnan(severities["critical"])).astype(float))
    repeated = rows["repeats"].to_numpy(dtype=float)
    repeats_known = total((~np.isnan(repeated)).astype(float))  # recorded, and the citations were given
    days = pd.DataFrame(
        {
            "code": code[starts],
            "day": day[starts],
            "n": np.diff(np.r_[starts, len(key)]).astype(float),
            "fails": total(rows["failed"].to_numpy(dtype=float)),
            "recorded": recorded,
            **{
                name: np.where(recorded > 0, total(np.nan_to_num(values)), np.nan)
                for name, values in severities.items()
            },
            "repeats_known": repeats_known,
            "repeats": np.where(repeats_known > 0, total(np.nan_to_num(repeated)), np.nan),
            **{name: total(np.nan_to_num(rows[name].to_numpy(dtype=float))) for name in subjects.COLUMNS},
            "result": rows["results"].to_numpy(dtype=object)[order][ends],
            "kind": rows["inspection_kind"].to_numpy(dtype=object)[order][ends],
            **{
                name: total((rows["inspection_kind"] == kind).fillna(False).to_numpy(dtype=float))
                for name, kind in (("complaints", "complaint"), ("poisonings", "suspected_food_poisoning"))
            },
            "canvass": total(canvass.is_canvass(rows).astype(float)),
            "conditional": total((rows["results"] == "Pass w/ Conditions").fillna(False).to_numpy(dtype=float)),
            "day_failed": rows["failed"].to_numpy(dtype=bool)[order][ends],
            "day_reinspection": rows["reinspection"].to_numpy(dtype=bool)[order][ends],
        }
    )
    return days, row_day


def _history_by_day(days: pd.DataFrame) -> pd.DataFrame:
    """For each (establishment, day): what was known from strictly earlier days."""
    code, day = days["code"].to_numpy(), days["day"].to_numpy()
    first = np.r_[True, code[1:] != code[:-1]] if len(code) else np.zeros(0, dtype=bool)
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(code)), 0))

    def before(values: np.ndarray) -> np.ndarray:
        """Sum over the establishment's earlier days: an exclusive cumulative sum restarted per establishment."""
        cumulative = np.r_[0.0, np.cumsum(values)]
        return cumulative[np.arange(len(values))] - cumulative[group_start]

    def previous(values: np.ndarray) -> np.ndarray:
        shifted = np.r_[np.array([None], dtype=object) if values.dtype == object else [np.nan], values[:-1]]
        return np.asarray(np.where(first, None if values.dtype == object else np.nan, shifted))

    out = pd.DataFrame(index=days.index)
    out["prior_inspections"] = before(days["n"].to_numpy())
    out["prior_fails"] = before(days["fails"].to_numpy())
    out["days_since_last"] = day - previous(day.astype(float))
    out["last_result"] = previous(days["result"].to_numpy(dtype=object))
    out["last_kind"] = previous(days["kind"].to_numpy(dtype=object))
    out["last_failed"] = pd.array(previous(days["day_failed"].to_numpy(dtype=float)), dtype="Float64").astype("boolean")
    for name in ("critical", "serious", "minor", "repeats"):
        out[f"last_{name}"] = previous(days[name].to_numpy(dtype=float))

    # totals over [day - 365, day): exclusive cumulative sums between two positions of the sorted key
    key = dates.day_keys(code, day)
    start = np.searchsorted(key, key - 365, side="left")
    position = np.arange(len(key))

    def window(values: np.ndarray, first: np.ndarray = start) -> np.ndarray:
        cumulative = np.r_[0.0, np.cumsum(values)]
        return cumulative[position] - cumulative[first]

    out["inspections_last_year"] = window(days["n"].to_numpy(dtype=float))
    out["fails_last_year"] = window(days["fails"].to_numpy(dtype=float))
    out["complaints_last_year"] = window(days["complaints"].to_numpy(dtype=float))
    out["food_poisoning_last_year"] = window(days["poisonings"].to_numpy(dtype=float))
    out["conditional_passes_last_year"] = window(days["conditional"].to_numpy(dtype=float))

    # since the establishment was first seen (0 on its first day), and since its last critical or serious violation
    out["establishment_age"] = day - day[group_start]

    def latest(flag: np.ndarray) -> np.ndarray:
        """Per day: the position of the establishment's latest day up to it with `flag` (group_start - 1: none)."""
        return np.maximum.accumulate(np.where(flag, position, group_start - 1))

    def since(flag: np.ndarray) -> np.ndarray:
        """Days since the establishment's latest strictly earlier day with `flag` (null: none)."""
        earlier = previous(latest(flag).astype(float))  # strictly earlier: the day before's answer
        found = ~np.isnan(earlier) & (earlier >= group_start)
        return np.where(found, day - day[np.where(found, earlier, 0).astype(np.int64)], np.nan)

    def in_a_row(flag: np.ndarray) -> np.ndarray:
        """Consecutive days with `flag` just before this one."""
        return np.nan_to_num(previous((position - latest(~flag)).astype(float)))

    severe = np.nan_to_num(days["critical"].to_numpy(dtype=float)) + np.nan_to_num(
        days["serious"].to_numpy(dtype=float)
    )
    out["days_since_critical"] = since(severe > 0)
    out["days_since_canvass"] = since(days["canvass"].to_numpy() > 0)
    # a run of failed inspections and re-inspections; a run of re-inspections (the chain of the current one)
    out["fails_in_a_row"] = in_a_row(days["day_failed"].to_numpy(dtype=bool))
    out["reinspections_in_a_row"] = in_a_row(days["day_reinspection"].to_numpy(dtype=bool))
    recorded = window((days["recorded"] > 0).to_numpy(dtype=float))
    for name in ("critical", "serious", "minor"):
        totals = window(np.nan_to_num(days[name].to_numpy(dtype=float)))
        out[f"{name}_last_year"] = np.where(recorded > 0, totals, np.nan)
    two_years = np.searchsorted(key, key - repeats.REPEAT_DAYS, side="left")
    totals = window(np.nan_to_num(days["repeats"].to_numpy(dtype=float)), two_years)
    known = window((days["repeats_known"] > 0).to_numpy(dtype=float), two_years)
    out["repeats_last_2_years"] = np.where(known > 0, totals, np.nan)
    for subject, name in zip(SUBJECTS, subjects.COLUMNS, strict=True):  # what it was cited for, the same 2 years
        out[feature_name(subject)] = np.where(known > 0, window(days[name].to_numpy(dtype=float), two_years), np.nan)
    return out


def verify_no_future(
    inspections: pd.DataFrame,
    features: pd.DataFrame,
    history: pd.DataFrame | None = None,
    citations: pd.DataFrame | None = None,
    sample: int = 100,
    seed: int = 0,
) -> list[int]:
    """Rebuild a sample of rows from the past alone and return the ids whose features differ from `features`.

    Each sampled row is built again with its own outcome changed (result, fail, violation counts) and, as history,
    only the rows of strictly earlier days that any feature may read (its establishment's, its chain's, and every
    inspection of the 90 days before: its ZIP code's, its surroundings' and the city's) with their citations. A
    feature that reads the row's own outcome, a row of the same day or a later one comes out different; so does a
    stored value that is not what `build` gives. Every feature, declared now or later, is covered without code of its
    own. The sampled rows are rebuilt in one `build`, the rows of one day together in a world of their own (its keys
    and ids relabelled, and its own `peers.REGION`: the city-wide and nearby totals of one world never count
    another's rows). Rows of the same day share their past, so they share a world: a week's sample is built over
    the city's 90 days a handful of times, not once per row; a feature that read a same-day row would read that
    row's changed outcome there, or miss the unsampled ones, and differ all the same.
    """
    rows = pd.concat([inspections, history], ignore_index=True) if history is not None else inspections
    rows = rows.drop_duplicates("inspection_id").reset_index(drop=True)
    picked = features.sample(min(sample, len(features)), random_state=seed)
    if picked.empty:
        return []
    at = pd.Index(rows["inspection_id"]).get_indexer(picked["inspection_id"])
    day = rows["inspection_date"].to_numpy()
    codes = {name: pd.factorize(rows[name])[0] for name in ("establishment", "chain")}
    window = np.timedelta64(peers.ZIP_DAYS, "D")
    days, world_of = np.unique(day[at], return_inverse=True)
    pasts = []
    for number, today in enumerate(days):  # one mask per sampled day: a check on a sample, not a data path
        members = at[world_of == number]
        chains = codes["chain"][members]
        readable = (  # their establishments', their chains', and every inspection of the 90 days before (the city's)
            np.isin(codes["establishment"], codes["establishment"][members])
            | np.isin(codes["chain"], chains[chains >= 0])
            | (day >= today - window)
        )
        pasts.append(np.flatnonzero((day < today) & readable))
    # each row's place in id order, once: a world's ids keep the order of the originals
    order = np.argsort(np.argsort(rows["inspection_id"].to_numpy(dtype=np.int64), kind="stable"), kind="stable")
    differs = np.zeros(len(picked), dtype=bool)
    for first in range(0, len(days), WORLDS_AT_ONCE):  # worlds are independent: a few at a time bound the memory
        numbers = np.arange(first, min(first + WORLDS_AT_ONCE, len(days)))
        asked = np.isin(world_of, numbers)
        rebuilt = _rebuild(rows, order, at[asked], world_of[asked], [pasts[n] for n in numbers], numbers, citations)
        for name in BUILT:
            differs[asked] |= ~_same(picked[name].iloc[asked].reset_index(drop=True), rebuilt[name])
    return [int(i) for i in picked["inspection_id"].to_numpy()[differs]]


def _rebuild(
    rows: pd.DataFrame,
    order: np.ndarray,
    at: np.ndarray,
    world_of: np.ndarray,
    pasts: list[np.ndarray],
    numbers: np.ndarray,
    citations: pd.DataFrame | None,
) -> pd.DataFrame:
    """The rows at `at` (each in its world `world_of`) built again, outcome changed, over their worlds' pasts (the
    positions `pasts` of the worlds `numbers`); in the order of `at`."""
    world = np.repeat(numbers, [len(past) for past in pasts])
    everything = np.concatenate(pasts)
    past = _world(rows, order, everything, world)
    own = _world(rows, order, at, world_of)
    own["failed"] = ~own["failed"].astype(bool)
    own["results"] = np.where(own["results"] == "Fail", "Pass", "Fail")
    own[["critical_count", "serious_count", "minor_count"]] = 7
    cited = None
    if citations is not None:
        ids = pd.DataFrame(
            {"inspection_id": rows["inspection_id"].to_numpy()[everything], "new": past["inspection_id"].to_numpy()}
        )
        cited = (
            citations.merge(ids, on="inspection_id")
            .drop(columns="inspection_id")
            .rename(columns={"new": "inspection_id"})
        )
    rebuilt = build(own, past, cited)
    rebuilt["zip"] = rebuilt["zip"].str.split("|", n=1).str[1]  # back to the ZIP code itself
    return rebuilt.reset_index(drop=True)


def _world(rows: pd.DataFrame, order: np.ndarray, positions: np.ndarray, world: np.ndarray) -> pd.DataFrame:
    """`rows[positions]`, each in its numbered world: keys prefixed with it, ids renumbered in their order."""
    part = rows.iloc[positions].reset_index(drop=True)
    prefix = pd.Series(world.astype(str), dtype=object) + "|"
    for name in ("establishment", "chain", "zip"):
        values = part[name].astype(object)
        part[name] = (prefix + values.astype(str)).where(values.notna().to_numpy(), None)
    part["inspection_id"] = world.astype(np.int64) * len(rows) + order[positions] + 1
    part[peers.REGION] = world.astype(np.int64)
    return part


def _same(stored: pd.Series, rebuilt: pd.Series) -> np.ndarray:
    """Per row: equal, both missing, or (numbers) close."""
    missing = stored.isna().to_numpy() & rebuilt.isna().to_numpy()
    either = stored.isna().to_numpy() | rebuilt.isna().to_numpy()
    left, right = stored.astype(object).where(~either, None), rebuilt.astype(object).where(~either, None)
    if pd.api.types.is_numeric_dtype(stored.dtype) or pd.api.types.is_bool_dtype(stored.dtype):
        close = np.isclose(
            pd.to_numeric(left, errors="coerce").to_numpy(dtype=float),
            pd.to_numeric(right, errors="coerce").to_numpy(dtype=float),
        )
    else:
        close = (left == right).to_numpy(dtype=bool)
    return missing | (~either & close)
