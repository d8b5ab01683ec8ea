"""Violations text -> a long table (inspection_id, number, severity, scheme), both numbering schemes, vectorised.

Before 2018-07-01 ("old"): items 1-14 are critical, 15-29 serious, 30-44 and 70 minor.
From 2018-07-01 ("new"): items 1-63; each citation is priority, priority foundation or core. Inspectors write the
category into the comments ("... PRIORITY FOUNDATION 7-38-005"); when they did not, items 1-29 (foodborne illness
risk factors) count as priority and 30-63 (good retail practices) as core.
For the per-inspection counts the new categories line up with the old words: priority -> critical,
priority foundation -> serious, core -> minor.
Items are joined by " | "; rows from 2011-2012 separate them by newlines instead.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from chicago_food_assets.core.arrow import arrow

NEW_SCHEME_FROM = pd.Timestamp("2018-07-01")
SEVERITY_COUNTS = {
    "critical": "critical",
    "serious": "serious",
    "minor": "minor",
    "priority": "critical",
    "priority_foundation": "serious",
    "core": "minor",
}

_NEWLINE_ITEM = r"\n(\s*\d{1,2}\.\s+[A-Z])"  # a newline that starts a numbered item (2011-2012 rows)
_NUMBER = r"^\s*(?P<number>\d{1,3})\.\s"
_CATEGORIES = {"PRIORITY FOUNDATION": "priority_foundation", "PRIORITY": "priority", "CORE": "core"}
_TAG = r"(?is)COMMENTS?:.*\b(?P<tag>PRIORITY FOUNDATION|PRIORITY|CORE)\b"  # greedy: the last category named


@dataclass
class Parsed:
    violations: pd.DataFrame  # long table, one row per cited item
    counts: pd.DataFrame  # per inspection: critical/serious/minor/violation counts (NA when not recorded)
    unparsed_items: int
    unknown_numbers: int


CHUNK_ROWS = 50_000  # inspections parsed at a time: the text's intermediate copies stay a few tens of MB


def parse(inspections: pd.DataFrame, chunk_rows: int | None = None) -> Parsed:
    """`inspections` has inspection_id, inspection_date, week, violations_recorded and the `violations` text as
    cleaning reads it (trimmed, empty -> missing: `core.arrow.text`).

    Parsed `chunk_rows` inspections at a time: each step of the string work copies the text, and on 300,000
    inspections (400 MB of text) the copies took 800 MB at once; the result is the same.
    """
    chunk_rows = chunk_rows or CHUNK_ROWS
    if len(inspections) <= chunk_rows:
        return _parse(inspections)
    parts = [_parse(inspections.iloc[i : i + chunk_rows]) for i in range(0, len(inspections), chunk_rows)]
    return Parsed(
        pd.concat([part.violations for part in parts], ignore_index=True),
        pd.concat([part.counts for part in parts], ignore_index=True),
        sum(part.unparsed_items for part in parts),
        sum(part.unknown_numbers for part in parts),
    )


def _parse(inspections: pd.DataFrame) -> Parsed:
    text = arrow(inspections["violations"]).combine_chunks()
    nil = pc.match_substring_regex(text, "^nil$", ignore_case=True)  # recorded, none cited
    text = pc.if_else(nil, pa.scalar(None, pa.string()), text)
    # only texts without a pipe can be the newline-separated kind: the regex reads those alone
    unpiped = pc.invert(pc.fill_null(pc.match_substring(text, "|"), True))
    rejoined = pc.replace_substring_regex(text.filter(unpiped), _NEWLINE_ITEM, r"|\1")
    text = pc.replace_with_mask(text, unpiped, rejoined)
    lists = pc.split_pattern(text, "|")  # the spaces around each separator are trimmed with the items' own
    parents = pc.list_parent_indices(lists).to_numpy()
    items = pc.list_flatten(lists)
    present = pc.not_equal(pc.utf8_trim_whitespace(items), "").to_numpy(zero_copy_only=False)
    parents, items = parents[present], items.filter(pa.array(present))
    number = pc.struct_field(pc.extract_regex(items, _NUMBER), [0])
    number = pc.cast(number, pa.float64()).to_numpy(zero_copy_only=False)
    new = (inspections["inspection_date"].to_numpy() >= NEW_SCHEME_FROM.to_datetime64())[parents]
    # a category is read from the comments of items of the new numbering only (the old one has none)
    tagged = np.full(len(items), None, dtype=object)
    tag = pc.utf8_upper(pc.struct_field(pc.extract_regex(items.filter(pa.array(new)), _TAG), [0]))
    tagged[new] = pd.Series(tag.to_numpy(zero_copy_only=False), dtype=object).map(_CATEGORIES).to_numpy(dtype=object)

    n = np.nan_to_num(number, nan=-1)
    old_severity = np.select(
        [(n >= 1) & (n <= 14), (n >= 15) & (n <= 29), ((n >= 30) & (n <= 44)) | (n == 70)],
        ["critical", "serious", "minor"],
        "unknown",
    )
    default_new = np.select([(n >= 1) & (n <= 29), (n >= 30) & (n <= 63)], ["priority", "core"], "unknown")
    new_severity = np.where(pd.isna(tagged) | (default_new == "unknown"), default_new, tagged)
    violations = pd.DataFrame(
        {
            "week": inspections["week"].to_numpy()[parents],
            "inspection_id": inspections["inspection_id"].to_numpy()[parents],
            "number": pd.array(number, dtype="Float64").astype("Int16"),
            "severity": np.where(new, new_severity, old_severity).astype(object),
            "scheme": np.where(new, "new", "old").astype(object),
        }
    )
    numbered = violations["number"].notna().to_numpy()
    violations = violations[numbered].reset_index(drop=True)
    unknown = int((violations["severity"] == "unknown").sum())
    return Parsed(violations, counts(inspections, violations, parents[numbered]), int((~numbered).sum()), unknown)


def counts(inspections: pd.DataFrame, violations: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Per inspection: counts by (old-language) severity; 0 when recorded with nothing cited, NA when not recorded.

    `rows` gives, for each violation, the position of its inspection in `inspections`.
    """
    word = violations["severity"].map(SEVERITY_COUNTS).to_numpy(dtype=object)
    n = len(inspections)
    out = {f"{name}_count": np.bincount(rows[word == name], minlength=n) for name in ("critical", "serious", "minor")}
    out["violation_count"] = np.bincount(rows, minlength=n)
    table = pd.DataFrame({name: pd.array(values, dtype="Int16") for name, values in out.items()})
    table[~inspections["violations_recorded"].to_numpy(dtype=bool)] = pd.NA
    return table
