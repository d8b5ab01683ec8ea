"""Who was inspected: one key per establishment, the same in every table."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from chicago_food_assets.core.arrow import arrow


def establishment_key(license_number: pd.Series, name: pd.Series, address: pd.Series) -> pd.Series:
    """`license:<n>` when the license is known (non-zero); else `name:<NAME>|<ADDRESS>` (Chicago writes 0 for none)."""
    known = (license_number.notna() & (license_number != 0)).fillna(False).astype(bool).to_numpy()
    codes, distinct = pd.factorize(license_number.where(known))
    labels = ("license:" + pd.Series(distinct, dtype=object).astype(str)).to_numpy(dtype=object)
    key = np.empty(len(known), dtype=object)
    key[known] = labels[codes[known]]
    if (~known).any():  # rare: build name keys for those rows only
        key[~known] = (
            "name:"
            + name[~known].astype("string").str.upper().str.strip().fillna("")
            + "|"
            + address[~known].astype("string").str.upper().str.replace(r"\s+", " ", regex=True).str.strip().fillna("")
        ).to_numpy(dtype=object)
    return pd.Series(key, index=license_number.index, dtype=object)


_STORE_NUMBER = r"#\s*\d+|\bNO\.?\s*\d+\b|\s\d+$"  # "SUBWAY #1234", "STORE NO. 5", "POTBELLY 212"
_COMPANY = r"\b(?:INC|INCORPORATED|LLC|LLP|LTD|CORP|CORPORATION|CO|COMPANY)\b"


def chain_key(public_name: pd.Series, legal_name: pd.Series) -> pd.Series:
    """The business a place belongs to, the same for all its branches: the public (AKA) name, else the legal (DBA)
    name, upper case, without store numbers, punctuation and company suffixes ("McDonald's #12" and "MCDONALDS"
    match). Null when neither name is known. Branches named differently ("SUBWAY SANDWICHES") stay apart."""
    public = pc.utf8_upper(pc.utf8_trim_whitespace(arrow(public_name)))
    usable = pc.and_kleene(pc.not_equal(public, "NIL"), pc.not_equal(public, ""))
    name = pc.if_else(pc.fill_null(usable, False), public, pc.utf8_upper(arrow(legal_name)))
    encoded = pc.dictionary_encode(name).combine_chunks()  # a place's name repeats with each inspection: once each
    name = encoded.dictionary
    for pattern, replacement in (
        (_STORE_NUMBER, " "),
        (r"['’`.]", ""),
        (r"[^A-Z0-9 ]+", " "),
        (_COMPANY, " "),
        (r"\s+", " "),
    ):
        name = pc.replace_substring_regex(name, pattern, replacement)
    key = pc.utf8_trim_whitespace(name)
    key = pc.if_else(pc.equal(key, ""), pa.scalar(None, pa.string()), key)
    key = pc.take(key, encoded.indices)
    return pd.Series(key.to_numpy(zero_copy_only=False), index=public_name.index, dtype=object)
