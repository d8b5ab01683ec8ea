"""Small bridges between pandas Series and Arrow compute, for string work that must not run per row in Python."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TEXT = pd.StringDtype("pyarrow")


def text_frame(tables: list[pa.Table]) -> pd.DataFrame:
    """Tables of text columns as one frame of `string[pyarrow]` columns, each one contiguous array (a column of
    many chunks, one per page or week, makes every later take and slice pay per chunk); a column only some tables
    have is missing in the others."""
    table = pa.concat_tables(tables, promote_options="permissive").combine_chunks()
    return table.to_pandas(types_mapper={pa.string(): TEXT, pa.large_string(): TEXT}.get)


def arrow(series: pd.Series) -> pa.ChunkedArray:
    """The Series as an Arrow string array (zero-copy when it is already `string[pyarrow]`)."""
    values = series if series.dtype == TEXT else series.astype(TEXT)
    array = values.array.__arrow_array__()
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def numbers(values: pd.Series, pattern: str) -> np.ndarray:
    """Floats from strings that fully match `pattern`; anything else (including "Infinity") -> NaN."""
    array = pc.utf8_trim_whitespace(arrow(values))
    readable = pc.match_substring_regex(array, pattern)
    parsed = pc.cast(pc.if_else(readable, array, pa.scalar(None, pa.string())), pa.float64())
    return parsed.to_numpy(zero_copy_only=False).astype(float)


def integers(values: np.ndarray | pd.Series, dtype: str = "Int64") -> pd.arrays.IntegerArray:
    """Nullable integers from floats with NaN for missing, without pandas' per-value integrality checks."""
    floats = np.asarray(values, dtype=float)
    missing = np.isnan(floats)
    numpy_dtype = {"Int16": np.int16, "Int32": np.int32, "Int64": np.int64}[dtype]
    return pd.arrays.IntegerArray(np.where(missing, 0, floats).astype(numpy_dtype), missing)


INT64_MAX = "9223372036854775807"


def whole_numbers(values: pd.Series) -> pd.arrays.IntegerArray:
    """Exact int64 from strings of ASCII digits (no float on the way, so ids above 2**53 stay distinct).

    Anything else (signs, decimals, other digits, more than int64 holds) is missing: the caller rejects it.
    """
    array = pc.utf8_trim_whitespace(arrow(values))
    digits = pc.match_substring_regex(array, r"^[0-9]{1,19}$")
    length = pc.utf8_length(array)
    fits = pc.or_(pc.less(length, 19), pc.less_equal(array, INT64_MAX))  # 19 digits: compare as text
    readable = pc.fill_null(pc.and_(digits, fits), False)
    parsed = pc.cast(pc.if_else(readable, array, pa.scalar(None, pa.string())), pa.int64())
    return pd.array(parsed.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get), dtype="Int64")


def text(series: pd.Series) -> pd.Series:
    """Trimmed Arrow strings, empty -> missing; whatever is not a string (missing) stays missing."""
    trimmed = pc.utf8_trim_whitespace(arrow(series))
    trimmed = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
    return pd.Series(pd.arrays.ArrowStringArray(trimmed), index=series.index)
