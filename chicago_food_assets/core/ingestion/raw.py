"""What a raw Socrata row looks like, and how to count values that will not parse (without changing them)."""

import json

import numpy as np
import pandas as pd

from chicago_food_assets.core.arrow import TEXT

FIELDS = (
    "inspection_id",
    "dba_name",
    "aka_name",
    "license_",
    "facility_type",
    "risk",
    "address",
    "city",
    "state",
    "zip",
    "inspection_date",
    "inspection_type",
    "results",
    "violations",
    "latitude",
    "longitude",
    "location",
)

# Socrata's JSON omits a field that is empty: a row without `violations` is an inspection where nothing was cited.
# It never sends a JSON null, which the bundled sample sends instead for rows whose source extract had no
# violations column (set from its provenance; the generator does the same): "not recorded". Such a null is kept as
# this text, so stored weeks and cleaning can tell the two apart.
UNKNOWN_WHEN_NULL = ("violations",)
NOT_RECORDED = "null"

OUTCOMES = frozenset({"Pass", "Pass w/ Conditions", "Fail"})
NOT_OUTCOMES = frozenset({"Out of Business", "Business Not Located", "No Entry", "Not Ready"})  # no inspection
RESULTS = OUTCOMES | NOT_OUTCOMES
RISKS = {"Risk 1 (High)": 1, "Risk 2 (Medium)": 2, "Risk 3 (Low)": 3, "All": 1}  # "All": every category, so high

# field -> full-match pattern a well-formed value has; absent values are not malformed.
_PATTERNS = {
    "inspection_id": r"\d+",
    "license_": r"\d+",
    "zip": r"\d{5}(?:-\d{4})?",
    "inspection_date": r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?)?",
    "latitude": r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?",
    "longitude": r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?",
}


def parse_rows(body: str | bytes) -> list[dict]:
    """A SODA answer parsed with every number and constant kept as the text it was sent as.

    `41.90` stays "41.90", an id beyond 2**53 keeps its digits, and JSON's `NaN`/`Infinity` (not valid JSON, but
    Python's parser accepts them) stay "NaN"/"Infinity" instead of becoming floats that pandas reads as missing.
    """
    return json.loads(body, parse_float=str, parse_int=str, parse_constant=str)


def as_text(value: object) -> object:
    """A received JSON value as text: strings unchanged, numbers and constants as written, objects as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, allow_nan=True)  # 41.9 -> "41.9", inf -> "Infinity"


def frame_of_rows(rows: list[dict]) -> pd.DataFrame:
    """Rows as received, every value text (Arrow strings): the known fields first (absent -> missing), extras kept;
    an explicit null in a field of `UNKNOWN_WHEN_NULL` becomes `NOT_RECORDED` (elsewhere, null is missing too).

    The feed sends strings; a JSON number, `Infinity`, `NaN` or a nested object is kept as the text it was sent
    as, so a stored week always reads back with the same types and the cleaner decides what the value means.
    """
    frame = pd.DataFrame.from_records(rows, index=range(len(rows))) if rows else pd.DataFrame()  # {} is a row too
    extras = [name for name in frame.columns if name not in FIELDS]
    frame = frame.reindex(columns=[*FIELDS, *extras]).astype(object)
    for name in UNKNOWN_WHEN_NULL:  # one look-up per row's dict, as from_records did: null and absent are both NaN now
        explicit = np.fromiter((row.get(name, "") is None for row in rows), dtype=bool, count=len(rows))
        frame.loc[explicit, name] = NOT_RECORDED
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.infer_dtype(column, skipna=True) not in ("string", "empty"):  # rare: only odd columns
            frame[name] = column.map(as_text, na_action="ignore")
    return frame.astype(TEXT)


def malformed_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Per field, how many present values do not have the expected form (they stay as they are)."""
    counts = {}
    for field, pattern in _PATTERNS.items():
        if field in frame.columns:
            values = frame[field].dropna().astype(str)
            counts[field] = int((~values.str.fullmatch(pattern)).sum())
    for field, allowed in (("results", RESULTS), ("risk", set(RISKS))):
        if field in frame.columns:
            counts[field] = int((~frame[field].dropna().isin(allowed)).sum())
    return counts


# The raw feed's field contract: a field the week itself (as stored before) or the weeks before it carried, and
# that none of this week's rows has, is a change of the source, not a week of inspections without it.
CONTRACT_MIN_ROWS = 20  # a reference of fewer rows says too little of how often a field is there
# Judged by share, not row by row (`violations` is absent from the live feed's rows where nothing was cited): a field
# the reference carried on a share p of its rows is missing from all n rows of a week by chance with probability
# (1 - p)^n; below this, the source changed. (45% of rows and 25 rows: 3e-7; 5% of 300 rows: 2e-7; 1% of 300: 0.05)
CONTRACT_CHANCE = 1e-6
CONTRACT_WEEKS_BEFORE = 4  # a week stored for the first time is compared with the weeks stored before it


def presence(parts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per week (index, partition keys): its rows and, per raw field, how many rows carry it."""
    columns = ["rows", *FIELDS]
    counts = [
        [len(part), *(int(part[name].notna().sum()) if name in part.columns else 0 for name in FIELDS)]
        for part in parts.values()
    ]
    return pd.DataFrame(counts, index=pd.Index(list(parts), name="week"), columns=columns, dtype="int64")


def missing_fields(
    current: pd.DataFrame,
    stored: pd.DataFrame,
    min_rows: int = CONTRACT_MIN_ROWS,
    chance: float = CONTRACT_CHANCE,
    weeks_before: int = CONTRACT_WEEKS_BEFORE,
) -> pd.DataFrame:
    """Fields this pull's weeks lack that their reference carried too often for chance (`CONTRACT_CHANCE`): one row
    per (week, field) with the reference's share and what the reference was (`presence` frames; `stored`: what the
    store held before this pull).

    A week's reference is its own stored version when there is one (a re-pull that lost a field would overwrite
    good data downstream), else the `weeks_before` weeks stored before it (a new week from a feed that stopped
    sending a field). Weeks pulled together for the first time are not each other's reference: the bundled sample
    joins extracts that really differ in their columns, and a first backfill has nothing to compare with.
    """
    empty = pd.DataFrame(columns=["week", "field", "rows", "reference_share", "reference"])
    if current.empty or stored.empty:
        return empty
    calendar = pd.date_range(min(stored.index.min(), current.index.min()), current.index.max(), freq="7D")
    keys = [str(day.date()) for day in calendar]
    earlier = stored.reindex(keys, fill_value=0).rolling(weeks_before, min_periods=1).sum().shift(1).fillna(0)
    own = stored.reindex(current.index)
    has_own = own["rows"].notna().to_numpy()
    reference = earlier.reindex(current.index).fillna(0)
    reference[has_own] = own[has_own]
    fields = list(FIELDS)
    share = reference[fields].div(reference["rows"].where(reference["rows"] > 0), axis=0)
    by_chance = (1 - share.fillna(0)).pow(current["rows"], axis=0)
    lost = (current[fields] == 0) & (by_chance < chance) & (reference["rows"] >= min_rows).to_numpy()[:, None]
    found = lost.stack()
    found = found[found]
    if found.empty:
        return empty
    weeks = found.index.get_level_values(0)
    names = found.index.get_level_values(1)
    return pd.DataFrame(
        {
            "week": weeks,
            "field": names,
            "rows": current.loc[weeks, "rows"].to_numpy(),
            "reference_share": [round(float(share.at[w, f]), 3) for w, f in zip(weeks, names, strict=True)],
            "reference": np.where(
                has_own[current.index.get_indexer(weeks)], "this week as stored before", "the weeks stored before it"
            ),
        }
    )
