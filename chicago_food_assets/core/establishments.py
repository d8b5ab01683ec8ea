"""Who was inspected: one key per establishment, the same in every table."""

import numpy as np
import pandas as pd


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
