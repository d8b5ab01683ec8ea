"""Raw Socrata rows -> one typed row per inspection with an outcome. Vectorised; nothing dropped silently.

Rules (the seed's, done properly): rows without inspection date, license or coordinates are dropped; results that
are not an inspection outcome are dropped; the same inspection_id twice keeps one; real nulls stay null (the seed's
fillna(0) turned names into numbers). Rows that cannot be parsed at all go to the reject table with their reason.
Every dropped, rejected or repaired row is counted by reason.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from chicago_food_assets.core import violations
from chicago_food_assets.core.arrow import TEXT, integers, numbers
from chicago_food_assets.core.establishments import establishment_key

NOT_OUTCOMES = frozenset({"Out of Business", "Business Not Located", "No Entry", "Not Ready"})
OUTCOMES = frozenset({"Pass", "Pass w/ Conditions", "Fail"})
CHICAGO = {"latitude": (41.60, 42.05), "longitude": (-87.95, -87.50)}  # the city's bounding box, with a margin
OTHER = "Other"

# First match wins; patterns run on lower-case text with punctuation turned into spaces.
FACILITY_TYPES: tuple[tuple[str, str], ...] = (
    (r"child\w*(?: s)? service", "Children's Services Facility"),
    (r"day ?care combo", "Daycare Combo"),
    (r"day ?care .*(?:above and under|under and above)", "Daycare Above and Under 2 Years"),
    (r"day ?care .*under 2", "Daycare (Under 2 Years)"),
    (r"day ?care", "Daycare (2 - 6 Years)"),
    (r"long term care|nursing home|assisted living|senior living|support\w* living|rehab", "Long Term Care"),
    (r"golden diner", "Golden Diner"),
    (r"hospital", "Hospital"),
    (r"mobile|food truck|\bcart\b", "Mobile Food"),
    (r"shared kitchen", "Shared Kitchen"),
    (r"cater", "Catering"),
    (r"banquet", "Banquet Hall"),
    (r"bakery|pastry|donut", "Bakery"),
    (r"cafeteria", "Cafeteria"),
    (r"restaurant|restuarant|resturant", "Restaurant"),
    (r"grocery|convenience|supermarket|food store|\bstore\b|market|deli\b", "Grocery Store"),
    (r"school|shcool|college|university|academy", "School"),
    (r"liquor", "Liquor"),
    (r"coffee|\bcafe\b|juice|\btea\b", "Coffee Shop"),
    (r"ice cream|frozen dessert|gelato|paleteria", "Ice Cream Shop"),
    (r"tavern|\bbar\b|lounge|\bpub\b", "Tavern"),
    (r"wholesale", "Wholesale"),
    (r"gas station", "Gas Station"),
    (r"special event|festival", "Special Event"),
    (r"shelter", "Shelter"),
    (r"poultry|slaughter", "Live Poultry"),
    (r"roof ?top", "Rooftop"),
    (r"stadium", "Stadium"),
)

# inspection_type -> kind; first match wins, on lower-case text.
INSPECTION_KINDS: tuple[tuple[str, str], ...] = (
    (r"food poison|\bsfp\b", "suspected_food_poisoning"),
    (r"task force|liquor|package goods", "task_force"),
    (r"complaint", "complaint"),
    (r"licen[cs]e", "license"),
    (r"canvas", "canvass"),
)
REINSPECTION = r"re[- ]?insp|re[- ]?inpsect|recheck"
RISKS = {"Risk 1 (High)": 1, "Risk 2 (Medium)": 2, "Risk 3 (Low)": 3, "All": 1}  # "All": every category, so high

COLUMNS = (
    "inspection_id",
    "week",
    "inspection_date",
    "license",
    "establishment",
    "dba_name",
    "aka_name",
    "address",
    "zip",
    "latitude",
    "longitude",
    "outside_chicago",
    "facility_type",
    "facility_type_raw",
    "risk",
    "inspection_type",
    "inspection_kind",
    "reinspection",
    "results",
    "failed",
    "violations_recorded",
    *violations.COUNT_COLUMNS,
)
REJECT_COLUMNS = ("week", "inspection_id", "reason", "row")


@dataclass
class Cleaned:
    """What cleaning made of a batch of raw rows."""

    inspections: pd.DataFrame
    violations: pd.DataFrame
    rejects: pd.DataFrame
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


_INTEGER = r"^\d+$"
_DECIMAL = r"^-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?$"


def text(series: pd.Series) -> pd.Series:
    """Trimmed Arrow strings, empty -> missing; whatever is not a string (missing) stays missing."""
    values = series if series.dtype == TEXT else series.astype(TEXT)
    trimmed = values.str.strip()
    return trimmed.mask(trimmed == "")


def per_distinct(series: pd.Series, transform: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply a transform to the distinct values only and map back: regex rules scale with distinct values, not rows."""
    codes, distinct = pd.factorize(series, use_na_sentinel=True)
    done = transform(pd.Series(distinct, dtype=series.dtype)).to_numpy(dtype=object)
    out = np.full(len(codes), None, dtype=object)
    present = codes >= 0
    out[present] = done[codes[present]]
    return pd.Series(out, index=series.index, dtype=object)


def _classify(values: pd.Series, rules: tuple[tuple[str, str], ...], default: str) -> pd.Series:
    """First-match regex rules on lower-case text with punctuation turned into spaces."""

    def label(distinct: pd.Series) -> pd.Series:
        keys = distinct.str.lower().str.replace(r"[^a-z0-9]+", " ", regex=True)
        labels = pd.Series(default, index=keys.index, dtype=object)
        unmatched = pd.Series(True, index=keys.index)
        for pattern, name in rules:
            hit = unmatched & keys.str.contains(pattern, regex=True).fillna(False).astype(bool)
            labels[hit] = name
            unmatched &= ~hit
        return labels

    return per_distinct(values, label)


def clean(raw: pd.DataFrame) -> Cleaned:
    """Clean a batch of raw rows (all strings, as received)."""
    frame = raw.reset_index(drop=True)
    n = len(frame)

    def field(name: str) -> pd.Series:
        return text(frame[name]) if name in frame.columns else pd.Series(pd.NA, index=frame.index, dtype=TEXT)

    raw_date = field("inspection_date")
    codes, distinct = pd.factorize(raw_date, use_na_sentinel=True)  # a few thousand distinct days
    days = pd.to_datetime(pd.Series(distinct, dtype=TEXT).str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    days = np.r_[days.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns")]
    inspection_date = pd.Series(days[codes], index=frame.index)  # code -1 (missing) takes the trailing NaT
    week = inspection_date - pd.to_timedelta(inspection_date.dt.weekday, unit="D")
    raw_id, raw_license = field("inspection_id"), field("license_")
    inspection_id = pd.Series(integers(numbers(raw_id, _INTEGER)), index=frame.index)
    license_number = pd.Series(integers(numbers(raw_license, _INTEGER)), index=frame.index)
    results = field("results")
    latitude, longitude, from_location = _coordinates(
        field("latitude"), field("longitude"), frame["location"] if "location" in frame.columns else None
    )
    recorded = frame["violations"].notna() if "violations" in frame.columns else pd.Series(False, index=frame.index)

    # -- rejects: rows that cannot be parsed at all --------------------------------------------------------
    reasons = np.full(n, None, dtype=object)
    unreadable_coordinates = (field("latitude").notna() & latitude.isna()) | (
        field("longitude").notna() & longitude.isna()
    )
    for reason, mask in (
        ("unreadable_inspection_id", inspection_id.isna()),
        ("unreadable_inspection_date", raw_date.notna() & inspection_date.isna()),
        ("unreadable_license", raw_license.notna() & license_number.isna()),
        ("unknown_result", results.notna() & ~results.isin(OUTCOMES | NOT_OUTCOMES)),
        ("unreadable_coordinates", unreadable_coordinates),
    ):
        hit = mask.fillna(False).to_numpy(dtype=bool) & pd.isna(reasons)
        reasons[hit] = reason
    rejected = ~pd.isna(reasons)
    rejects = pd.DataFrame(
        {
            "week": week[rejected],
            "inspection_id": raw_id[rejected].astype(object),
            "reason": reasons[rejected],
            "row": frame[rejected].apply(lambda row: row.dropna().to_json(), axis=1) if rejected.any() else [],
        },  # rejects are rare: serialising them row by row is not a data path
        columns=list(REJECT_COLUMNS),
    ).reset_index(drop=True)

    # -- drops by rule ----------------------------------------------------------------------------------------
    dropped: dict[str, int] = {}
    keep = ~rejected
    for reason, mask in (
        ("missing_inspection_date", raw_date.isna()),
        ("missing_license", raw_license.isna()),
        ("missing_coordinates", latitude.isna() | longitude.isna()),
        ("missing_result", results.isna()),
        ("not_an_outcome", results.isin(NOT_OUTCOMES)),
    ):
        hit = keep & mask.fillna(False).to_numpy(dtype=bool)
        dropped[reason] = int(hit.sum())
        keep &= ~hit

    risk_text = field("risk")
    # de-duplicate (the same inspection_id twice keeps the last received: a later portal edit) and order by date
    # and id; every column is then taken once, at the end
    candidates = np.flatnonzero(keep)
    ids = inspection_id.to_numpy(dtype=float, na_value=np.nan)[candidates]
    last = ~pd.Series(ids).duplicated(keep="last").to_numpy()
    dropped["duplicate_inspection_id"] = int((~last).sum())
    candidates, ids = candidates[last], ids[last]
    rows = candidates[np.lexsort((ids, inspection_date.to_numpy()[candidates]))]

    risk_text = field("risk")
    columns = {
        "inspection_id": inspection_id,
        "week": week,
        "inspection_date": inspection_date,
        "license": license_number,
        "dba_name": field("dba_name"),
        "aka_name": field("aka_name"),
        "address": field("address"),
        "zip": field("zip"),
        "latitude": latitude,
        "longitude": longitude,
        "facility_type_raw": field("facility_type"),
        "risk": risk_text.map(RISKS).astype("Int16"),
        "inspection_type": field("inspection_type"),
        "results": results,
        "violations_recorded": recorded,
        "violations": frame["violations"] if "violations" in frame.columns else pd.Series(None, index=frame.index),
    }
    kept = pd.DataFrame({name: values.iloc[rows].reset_index(drop=True) for name, values in columns.items()})
    kept["address"] = kept["address"].str.replace(r" {2,}", " ", regex=True)
    kept["zip"] = kept["zip"].str.slice(0, 5)
    # identical rows under other ids: compare every field, but only where license and date already coincide
    twins = kept[kept.duplicated(subset=["license", "inspection_date"], keep=False).to_numpy()]
    identical = int(twins.duplicated(subset=[c for c in kept.columns if c != "inspection_id"]).sum())
    repaired = {
        "coordinates_from_location": int(from_location.to_numpy()[rows].sum()),
        "risk_all_as_high": int(risk_text.iloc[rows].eq("All").sum()),
    }
    kept["outside_chicago"] = ~(
        kept["latitude"].between(*CHICAGO["latitude"]) & kept["longitude"].between(*CHICAGO["longitude"])
    )
    kept["facility_type"] = _classify(kept["facility_type_raw"], FACILITY_TYPES, OTHER).fillna(OTHER).astype(TEXT)
    repaired["facility_type_other"] = int((kept["facility_type"] == OTHER).sum())
    kept["inspection_kind"] = _classify(kept["inspection_type"], INSPECTION_KINDS, "other").fillna("other").astype(TEXT)
    kept["reinspection"] = (
        kept["inspection_type"].str.lower().str.contains(REINSPECTION, regex=True).fillna(False).astype(bool)
    )
    kept["failed"] = kept["results"].eq("Fail").fillna(False).astype(bool)
    kept["establishment"] = establishment_key(kept["license"], kept["dba_name"], kept["address"])
    parsed = violations.parse(kept)
    inspections = pd.concat([kept, parsed.counts], axis=1)[list(COLUMNS)]
    return Cleaned(
        inspections,
        parsed.violations,
        rejects,
        dropped,
        repaired,
        identical,
        parsed.unparsed_items,
        parsed.unknown_numbers,
        week.value_counts(),
    )


def _coordinates(
    latitude: pd.Series, longitude: pd.Series, location: pd.Series | None
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Floats from the latitude/longitude fields; when both are absent, from `location` (swapped pairs fixed)."""
    lat = pd.Series(numbers(latitude, _DECIMAL), index=latitude.index)
    lon = pd.Series(numbers(longitude, _DECIMAL), index=longitude.index)
    use = pd.Series(False, index=latitude.index)
    if location is not None:
        use = (location.notna() & latitude.isna() & longitude.isna()).to_numpy(dtype=bool)
        if use.any():  # rare: only rows whose own coordinates are absent
            found = location[use]
            pairs = pd.DataFrame([v if isinstance(v, dict) else {} for v in found], index=found.index)
            a = pd.Series(
                numbers(text(pairs.get("latitude", pd.Series(pd.NA, index=found.index))), _DECIMAL), index=found.index
            )
            b = pd.Series(
                numbers(text(pairs.get("longitude", pd.Series(pd.NA, index=found.index))), _DECIMAL), index=found.index
            )
            swapped = a < 0  # the portal has served some points as (longitude, latitude)
            lat[use] = a.where(~swapped, b)
            lon[use] = b.where(~swapped, a)
        use = pd.Series(use, index=latitude.index)
    return lat, lon, use & lat.notna()
