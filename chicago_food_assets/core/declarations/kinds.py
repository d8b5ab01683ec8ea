"""The column kinds a contract may declare, each with its type in every layer that stores or serves it.

The one table of types: pandas (frames), PostgreSQL (DDL and COPY), Arrow (the Parquet export), Python (the API's
response structs), and the family the codecs and the dagster-pandas checks branch on.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from chicago_food_assets.core.arrow import TEXT


@dataclass(frozen=True)
class Kind:
    pandas: object  # integers are nullable pandas integers; texts are Arrow strings; a date is datetime64 at midnight
    postgres: str
    arrow: pa.DataType
    python: Any  # a type, or a generic alias such as list[dict[str, str]]
    family: str  # integer, float, boolean, date, instant or text


KINDS: dict[str, Kind] = {
    "bigint": Kind("Int64", "bigint", pa.int64(), int, "integer"),
    "integer": Kind("Int32", "integer", pa.int32(), int, "integer"),
    "smallint": Kind("Int16", "smallint", pa.int16(), int, "integer"),
    "float": Kind("float64", "double precision", pa.float64(), float, "float"),
    "boolean": Kind("boolean", "boolean", pa.bool_(), bool, "boolean"),
    "date": Kind("datetime64[ns]", "date", pa.date32(), date, "date"),
    "instant": Kind("datetime64[ns, UTC]", "timestamptz", pa.timestamp("us", tz="UTC"), datetime, "instant"),
    "text": Kind(TEXT, "text", pa.string(), str, "text"),
    # JSON text in pandas, jsonb in PostgreSQL; served, it is a score's reasons (core/models/reasons.py)
    "json": Kind(TEXT, "jsonb", pa.string(), list[dict[str, str | float]], "text"),
}
