"""The City's free text named: a facility type, an inspection's kind, a re-inspection.

First-match regex rules on lower-case text with punctuation turned into spaces, run on the distinct values only
(`per_distinct`), so they scale with the few thousand distinct spellings, not with the rows.
"""

from collections.abc import Callable

import numpy as np
import pandas as pd

from chicago_food_assets.core.arrow import TEXT

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


def per_distinct(series: pd.Series, transform: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply a transform to the distinct values only and map back: regex rules scale with distinct values, not rows."""
    codes, distinct = pd.factorize(series, use_na_sentinel=True)
    done = transform(pd.Series(distinct, dtype=series.dtype)).to_numpy(dtype=object)
    out = np.full(len(codes), None, dtype=object)
    present = codes >= 0
    out[present] = done[codes[present]]
    return pd.Series(out, index=series.index, dtype=object)


def classify(values: pd.Series, rules: tuple[tuple[str, str], ...], default: str) -> pd.Series:
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


def facility_type(raw: pd.Series) -> pd.Series:
    """The canonical facility type of each raw `facility_type` (OTHER when no rule matches or it is missing)."""
    return classify(raw, FACILITY_TYPES, OTHER).fillna(OTHER).astype(TEXT)


def inspection_kind(raw: pd.Series) -> pd.Series:
    """The kind of each raw `inspection_type` (INSPECTION_KINDS; `other` when none matches or it is missing)."""
    return classify(raw, INSPECTION_KINDS, "other").fillna("other").astype(TEXT)


def is_reinspection(raw: pd.Series) -> pd.Series:
    """Whether each raw `inspection_type` names a re-inspection (False when it is missing)."""
    return raw.str.lower().str.contains(REINSPECTION, regex=True).fillna(False).astype(bool)
