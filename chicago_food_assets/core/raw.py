"""What a raw Socrata row looks like, and how to count values that will not parse (without changing them)."""

import json

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
    """Rows as received, every value text (Arrow strings): the known fields first (absent -> missing), extras kept.

    The feed sends strings; a JSON number, `Infinity`, `NaN` or a nested object is kept as the text it was sent
    as, so a stored week always reads back with the same types and the cleaner decides what the value means.
    """
    frame = pd.DataFrame.from_records(rows, index=range(len(rows))) if rows else pd.DataFrame()  # {} is a row too
    extras = [name for name in frame.columns if name not in FIELDS]
    frame = frame.reindex(columns=[*FIELDS, *extras])
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
