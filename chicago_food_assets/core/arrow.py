"""Small bridges between pandas Series and Arrow compute, for string work that must not run per row in Python."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TEXT = pd.StringDtype("pyarrow")


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
