"""Raw Socrata rows -> one typed row per inspection with an outcome. Vectorised; nothing dropped silently.

Rules (the seed's, done properly): rows without inspection date, license or coordinates are dropped; results that
are not an inspection outcome are dropped; the same inspection_id twice keeps one; real nulls stay null (the seed's
fillna(0) turned names into numbers). Rows that cannot be parsed at all go to the reject table with their reason.
Every dropped, rejected or repaired row is counted by reason.
"""

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from chicago_food_assets.core import dates
from chicago_food_assets.core.arrow import TEXT, arrow, text, whole_numbers
from chicago_food_assets.core.declarations.contracts import (
    CLEAN_INSPECTIONS,
    INSPECTION_REJECTS,
    VISITS_WITHOUT_OUTCOME,
)
from chicago_food_assets.core.ingestion import labels, violations
from chicago_food_assets.core.ingestion.coordinates import coordinates, in_chicago
from chicago_food_assets.core.ingestion.establishments import chain_key, establishment_key
from chicago_food_assets.core.ingestion.raw import NOT_OUTCOMES, NOT_RECORDED, RESULTS, RISKS

# A violations text longer than this, or with more items, is no inspection report (the longest of 31,598 real ones is
# 9,599 characters and 28 items): it is a reject, never counts that would rank the place first.
LONGEST_VIOLATIONS = 30_000
MOST_VIOLATION_ITEMS = 80
COLUMNS = CLEAN_INSPECTIONS.names
REJECT_COLUMNS = INSPECTION_REJECTS.names


@dataclass
class Cleaned:
    """What cleaning made of a batch of raw rows."""

    inspections: pd.DataFrame
    violations: pd.DataFrame
    rejects: pd.DataFrame
    visits: pd.DataFrame  # visits without an outcome (counted as dropped from the inspections: `not_an_outcome`)
    dropped: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    identical_under_other_ids: int = 0
    unparsed_violation_items: int = 0
    unknown_violation_numbers: int = 0
    rows_in_by_week: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))  # raw rows per week

    def dropped_share_by_week(self) -> pd.Series:
        """Per week of the raw rows, the share that did not become clean inspections."""
        rows_out = self.inspections["week"].value_counts().reindex(self.rows_in_by_week.index, fill_value=0)
        return (1 - rows_out / self.rows_in_by_week).sort_index()


class Fields:
    """A batch's raw text fields, each read (trimmed, empty -> missing) once however many rules look at it; a field
    the batch lacks is all missing."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.read: dict[str, pd.Series] = {}

    def __call__(self, name: str) -> pd.Series:
        if name not in self.read:
            frame = self.frame
            self.read[name] = (
                text(frame[name]) if name in frame.columns else pd.Series(pd.NA, index=frame.index, dtype=TEXT)
            )
        return self.read[name]


@dataclass
class Parsed:
    """The fields of a batch of raw rows, read: what each rule below decides on."""

    frame: pd.DataFrame
    raw_date: pd.Series
    inspection_date: pd.Series
    week: pd.Series
    raw_id: pd.Series
    inspection_id: pd.Series
    raw_license: pd.Series
    license: pd.Series
    results: pd.Series
    latitude: pd.Series
    longitude: pd.Series
    from_location: pd.Series
    swapped: pd.Series
    field: Fields


def parse(raw: pd.DataFrame) -> Parsed:
    frame = raw.reset_index(drop=True)
    field = Fields(frame)
    raw_date = field("inspection_date")
    codes, distinct = pd.factorize(raw_date, use_na_sentinel=True)  # a few thousand distinct days
    days = pd.to_datetime(pd.Series(distinct, dtype=TEXT).str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    days = np.r_[days.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns")]
    inspection_date = pd.Series(days[codes], index=frame.index)  # code -1 (missing) takes the trailing NaT
    week = inspection_date - pd.to_timedelta(inspection_date.dt.weekday, unit="D")
    raw_id, raw_license = field("inspection_id"), field("license_")
    latitude, longitude, from_location, swapped = coordinates(
        field("latitude"), field("longitude"), field("location") if "location" in frame.columns else None
    )
    return Parsed(
        frame,
        raw_date,
        inspection_date,
        week,
        raw_id,
        pd.Series(whole_numbers(raw_id), index=frame.index),
        raw_license,
        pd.Series(whole_numbers(raw_license), index=frame.index),
        field("results"),
        latitude,
        longitude,
        from_location,
        swapped,
        field,
    )


def implausible_violations(cited: pd.Series) -> pd.Series:
    """Violations texts too long, or with too many items, to be one inspection's report."""
    array = arrow(cited)
    items = pc.add(pc.count_substring(array, "|"), 1)
    implausible = pc.or_(pc.greater(pc.utf8_length(array), LONGEST_VIOLATIONS), pc.greater(items, MOST_VIOLATION_ITEMS))
    return pd.Series(pc.fill_null(implausible, False).to_numpy(zero_copy_only=False), index=cited.index)


def has_nul(values: pa.ChunkedArray) -> np.ndarray:
    """Per value, whether it holds a NUL character. The column's character buffers are scanned first (their
    smallest byte: one vectorised pass, no copy), and only a column whose buffers hold a NUL (rare) is searched value
    by value."""
    buffers = [chunk.buffers()[-1] for chunk in values.chunks]
    if not any(buffer is not None and np.frombuffer(buffer, dtype=np.uint8).min(initial=1) == 0 for buffer in buffers):
        return np.zeros(len(values), dtype=bool)
    return pc.fill_null(pc.match_substring(values, "\x00"), False).to_numpy(zero_copy_only=False)


def reject_reasons(parsed: Parsed, start: pd.Timestamp | None, end: pd.Timestamp | None) -> np.ndarray:
    """Per row, why it cannot be cleaned at all (None: it can). The first reason that applies is kept."""
    n = len(parsed.frame)
    latitude, longitude = parsed.latitude, parsed.longitude
    unreadable_coordinates = (parsed.field("latitude").notna() & latitude.isna()) | (
        parsed.field("longitude").notna() & longitude.isna()
    )
    nul = np.zeros(n, dtype=bool)
    for name in parsed.frame.columns:  # PostgreSQL text cannot hold NUL: such a row cannot be stored cleaned
        nul |= has_nul(arrow(parsed.frame[name]))
    date = parsed.inspection_date
    reasons = np.full(n, None, dtype=object)
    for reason, mask in (
        ("unreadable_inspection_id", parsed.inspection_id.isna()),
        ("unreadable_inspection_date", parsed.raw_date.notna() & date.isna()),
        ("inspection_date_before_the_partitions", date < pd.Timestamp(dates.FIRST_WEEK)),
        ("inspection_date_in_the_future", date > pd.Timestamp.now().normalize() + pd.Timedelta(days=1)),
        ("inspection_date_outside_the_window", (date < start) if start is not None else None),
        ("inspection_date_outside_the_window", (date >= end) if end is not None else None),
        ("unreadable_license", parsed.raw_license.notna() & parsed.license.isna()),
        ("unknown_result", parsed.results.notna() & ~parsed.results.isin(RESULTS)),
        ("unreadable_coordinates", unreadable_coordinates),
        ("coordinates_out_of_range", (latitude.abs() > 90) | (longitude.abs() > 180)),
        ("coordinates_outside_chicago", latitude.notna() & longitude.notna() & ~in_chicago(latitude, longitude)),
        ("implausible_violations", implausible_violations(parsed.field("violations"))),
        ("nul_character", pd.Series(nul)),
    ):
        if mask is None:
            continue
        hit = mask.fillna(False).to_numpy(dtype=bool) & pd.isna(reasons)
        reasons[hit] = reason
    return reasons


def reject_table(
    parsed: Parsed, reasons: np.ndarray, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> pd.DataFrame:
    """The rejected rows as received (JSON), with the reason; a row without a week inside the window takes the
    window's first week, so every row fetched for a window is stored in it."""
    rejected = ~pd.isna(reasons)
    week = parsed.week[rejected]
    if start is not None:
        outside = week.isna() | (week < start) | ((week >= end) if end is not None else False)
        week = week.where(~outside, start)
    rows = (
        parsed.frame[rejected].apply(lambda row: _json_row(row.dropna().to_dict()), axis=1)
        if rejected.any()
        else pd.Series([], dtype=object)
    )  # rejects are rare: serialising them row by row is not a data path
    return pd.DataFrame(
        {
            "week": week.to_numpy(),
            "inspection_id": parsed.raw_id[rejected].to_numpy(),
            "reason": reasons[rejected],
            "row": rows.to_numpy(),
        },
        columns=list(REJECT_COLUMNS),
    )


def _json_row(row: dict) -> str:
    """JSON that PostgreSQL's jsonb accepts: a NUL character (never allowed there) is written as the text `\\u0000`."""
    return json.dumps(row, ensure_ascii=False).replace("\\u0000", "\\\\u0000")


def drop_rules(parsed: Parsed, keep: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """Rows the seed's rules drop (counted by reason), then one row per inspection_id (the last received wins)."""
    dropped: dict[str, int] = {}
    for reason, mask in (
        ("missing_inspection_date", parsed.raw_date.isna()),
        ("missing_license", parsed.raw_license.isna()),
        ("missing_coordinates", parsed.latitude.isna() | parsed.longitude.isna()),
        ("missing_result", parsed.results.isna()),
        ("not_an_outcome", parsed.results.isin(NOT_OUTCOMES)),
    ):
        hit = keep & mask.fillna(False).to_numpy(dtype=bool)
        dropped[reason] = int(hit.sum())
        keep = keep & ~hit
    # the same inspection_id twice keeps the last received (a later portal edit); then order by date and id
    candidates = np.flatnonzero(keep)
    ids = parsed.inspection_id.to_numpy(dtype="int64", na_value=0)[candidates]
    last = ~pd.Series(ids).duplicated(keep="last").to_numpy()
    dropped["duplicate_inspection_id"] = int((~last).sum())
    candidates, ids = candidates[last], ids[last]
    return candidates[np.lexsort((ids, parsed.inspection_date.to_numpy()[candidates]))], dropped


def visit_table(parsed: Parsed, readable: np.ndarray) -> pd.DataFrame:
    """The readable rows whose result says no inspection took place, dated and licensed (one per inspection_id, the
    last received wins): out of business, not located, no entry, not ready. Coordinates may be missing."""
    keep = (
        readable
        & parsed.raw_date.notna().to_numpy()
        & parsed.raw_license.notna().to_numpy()
        & parsed.results.isin(NOT_OUTCOMES).fillna(False).to_numpy(dtype=bool)
    )
    rows = np.flatnonzero(keep)
    ids = parsed.inspection_id.to_numpy(dtype="int64", na_value=0)[rows]
    rows = rows[~pd.Series(ids).duplicated(keep="last").to_numpy()]
    field = parsed.field
    visits = pd.DataFrame(
        {
            "inspection_id": parsed.inspection_id.iloc[rows].array,
            "week": parsed.week.iloc[rows].array,
            "inspection_date": parsed.inspection_date.iloc[rows].array,
            "license": parsed.license.iloc[rows].array,
            **{name: field(name).iloc[rows].array for name in ("dba_name", "aka_name", "address", "zip")},
            "latitude": parsed.latitude.iloc[rows].array,
            "longitude": parsed.longitude.iloc[rows].array,
            "risk": field("risk").iloc[rows].map(RISKS).astype("Int16").array,
            "inspection_type": field("inspection_type").iloc[rows].array,
            "results": parsed.results.iloc[rows].array,
        }
    )
    visits["address"] = visits["address"].astype(TEXT).str.replace(r" {2,}", " ", regex=True)
    visits["zip"] = visits["zip"].astype(TEXT).str.slice(0, 5)
    visits["establishment"] = establishment_key(visits["license"], visits["dba_name"], visits["address"])
    return VISITS_WITHOUT_OUTCOME.conform(visits[list(VISITS_WITHOUT_OUTCOME.names)])


def clean(raw: pd.DataFrame, start: object = None, end: object = None) -> Cleaned:
    """Clean a batch of raw rows (all text, as received) fetched for the window [start, end), when given.

    Every row received ends as exactly one of: a clean inspection, a drop counted by reason, a reject with its
    reason. A row dated outside the window (before 2010, or in the future) is a reject of the window's first week.
    """
    parsed = parse(raw)
    start = pd.Timestamp(start) if start is not None else None
    end = pd.Timestamp(end) if end is not None else None
    reasons = reject_reasons(parsed, start, end)
    rejects = reject_table(parsed, reasons, start, end)
    rows, dropped = drop_rules(parsed, pd.isna(reasons))
    field, risk_text = parsed.field, parsed.field("risk")
    # the live feed's meaning: no `violations` is nothing cited; only an explicit null says "not recorded"
    cited = field("violations")
    recorded = cited.ne(NOT_RECORDED).fillna(True).astype(bool)
    columns = {
        "inspection_id": parsed.inspection_id,
        "week": parsed.week,
        "inspection_date": parsed.inspection_date,
        "license": parsed.license,
        "dba_name": field("dba_name"),
        "aka_name": field("aka_name"),
        "address": field("address"),
        "zip": field("zip"),
        "latitude": parsed.latitude,
        "longitude": parsed.longitude,
        "facility_type_raw": field("facility_type"),
        "risk": risk_text.map(RISKS).astype("Int16"),
        "inspection_type": field("inspection_type"),
        "results": parsed.results,
        "violations_recorded": recorded,
        "violations": cited.where(recorded),
    }
    kept = pd.DataFrame({name: values.iloc[rows].reset_index(drop=True) for name, values in columns.items()})
    repaired = {
        "coordinates_from_location": int(parsed.from_location.to_numpy()[rows].sum()),
        "coordinates_swapped": int(parsed.swapped.to_numpy()[rows].sum()),
        "risk_all_as_high": int(risk_text.iloc[rows].eq("All").sum()),
    }
    inspections, identical, parsed_violations = derive(kept, repaired)
    return Cleaned(
        inspections,
        parsed_violations.violations,
        rejects,
        visit_table(parsed, pd.isna(reasons)),
        dropped,
        repaired,
        identical,
        parsed_violations.unparsed_items,
        parsed_violations.unknown_numbers,
        parsed.week.value_counts(),
    )


def derive(kept: pd.DataFrame, repaired: dict[str, int]) -> tuple[pd.DataFrame, int, "violations.Parsed"]:
    """The derived columns of kept rows: canonical names, kinds, flags, the establishment, violation counts."""
    kept["address"] = kept["address"].str.replace(r" {2,}", " ", regex=True)
    kept["zip"] = kept["zip"].str.slice(0, 5)
    # identical rows under other ids: compare every field, but only where license and date already coincide
    twins = kept[kept.duplicated(subset=["license", "inspection_date"], keep=False).to_numpy()]
    identical = int(twins.duplicated(subset=[c for c in kept.columns if c != "inspection_id"]).sum())
    kept["outside_chicago"] = ~in_chicago(kept["latitude"], kept["longitude"])  # rejected upstream: kept as a guard
    kept["facility_type"] = labels.facility_type(kept["facility_type_raw"])
    repaired["facility_type_other"] = int((kept["facility_type"] == labels.OTHER).sum())
    kept["inspection_kind"] = labels.inspection_kind(kept["inspection_type"])
    kept["reinspection"] = labels.is_reinspection(kept["inspection_type"])
    kept["failed"] = kept["results"].eq("Fail").fillna(False).astype(bool)
    kept["establishment"] = establishment_key(kept["license"], kept["dba_name"], kept["address"])
    kept["chain"] = chain_key(kept["aka_name"], kept["dba_name"])
    parsed = violations.parse(kept)
    return pd.concat([kept, parsed.counts], axis=1)[list(COLUMNS)], identical, parsed
