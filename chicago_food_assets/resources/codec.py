"""The Arrow CSV codec between frames of a contract and PostgreSQL's COPY (both ways, in C++)."""

import io

import numpy as np
import pandas as pd
import psycopg2
import pyarrow as pa
import pyarrow.compute as pc
from psycopg2 import sql
from pyarrow import csv as pa_csv

from chicago_food_assets.core.arrow import TEXT
from chicago_food_assets.core.declarations.columns import Contract

NULL = r"\N"


ROWS_PER_PART = 50_000  # the rows whose CSV text is built at once: a part's text, not the whole table's, in memory


class CsvStream(io.RawIOBase):
    """The CSV of `frame` for COPY, read as a file: built by Arrow `ROWS_PER_PART` rows at a time as COPY reads, so
    a table's text is never all in memory (the 300,000-row run's features step peaked writing all of it). Every
    value quoted, NULL the unquoted marker (so the text `\\N` stays text). Dates are YYYY-MM-DD (times of day are
    refused, for every row, when the stream is made: before anything is written), instants ISO 8601 with offset,
    floats in their shortest round-trip form (`inf`, `-inf` and `nan` are PostgreSQL's spellings too)."""

    def __init__(self, frame: pd.DataFrame, contract: Contract, rows: int | None = None) -> None:
        super().__init__()
        for column in contract.columns:
            if column.type.family == "date":
                days = frame[column.name].dropna()
                if (days != days.dt.normalize()).any():
                    raise ValueError(
                        f"column {column.name!r} is stored as a date but has times of day; declare it an instant"
                    )
        self._frame, self._contract, self._rows = frame, contract, rows or ROWS_PER_PART
        self._next = 0
        self._part = memoryview(b"")
        self._fill()  # the first part now: a column that cannot be written fails before the write begins

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not len(self._part) and self._next < len(self._frame):
            self._part = memoryview(csv_text(self._frame.iloc[self._next : self._next + self._rows], self._contract))
            self._next += self._rows

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(1 << 24), b""))
        self._fill()
        out, self._part = self._part[:size], self._part[size:]
        return out.tobytes()


def csv_text(frame: pd.DataFrame, contract: Contract) -> memoryview:
    """The CSV lines of `frame` (see `CsvStream`), one buffer."""
    fields = []
    for column in contract.columns:
        values = frame[column.name]
        if column.type.family == "date":
            text = pa.array(values.dt.strftime("%Y-%m-%d"), type=pa.string(), from_pandas=True)
        elif column.type.family == "instant":
            text = pa.array(values.dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z"), type=pa.string(), from_pandas=True)
        elif column.type.family == "boolean":
            flags = pa.array(values.astype("boolean"), type=pa.bool_(), from_pandas=True)
            text = pc.if_else(flags, "t", "f")
        elif column.type.family == "text":
            text = pa.array(values.astype(TEXT), type=pa.string(), from_pandas=True)
        else:
            text = pc.cast(pa.array(values, from_pandas=True), pa.string())
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
        fields.append(pc.fill_null(quoted, NULL))
    if not len(frame):
        return memoryview(b"")
    lines = pc.binary_join_element_wise(*fields, pa.scalar(""), ",")  # every field, then a trailing comma
    lines = pc.utf8_replace_slice(lines, -1, 2**31 - 1, "\n")  # ... replaced by the end of line
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]]


def read_query(cursor: "psycopg2.extensions.cursor", select: sql.Composable, contract: Contract) -> pd.DataFrame:
    """One COPY of a query into a frame of the contract's dtypes.

    Non-null values are quoted and NULL is the unquoted marker, so a text that reads `\\N` stays a text; Arrow's
    CSV reader keeps that distinction (pandas' does not) and parses the columns in C++.
    """
    buffer = io.BytesIO()
    copy = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true, NULL {}, FORCE_QUOTE *)").format(
        select, sql.Literal(NULL)
    )
    cursor.copy_expert(copy.as_string(cursor), buffer)
    buffer.seek(0)
    types = {c.name: pa.string() for c in contract.columns}
    table = pa_csv.read_csv(
        buffer,
        read_options=pa_csv.ReadOptions(use_threads=True),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=types, null_values=[NULL], strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )
    columns = {}
    for column in contract.columns:
        values = table.column(column.name)
        if column.type.family == "integer":
            columns[column.name] = pd.Series(pc.cast(values, pa.int64()).to_pandas(types_mapper=NULLABLE.get))
        elif column.type.family == "float":
            columns[column.name] = pd.Series(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False))
        elif column.type.family == "boolean":
            flags = pc.equal(values, "t")
            columns[column.name] = pd.Series(flags.to_pandas(types_mapper=NULLABLE.get))
        elif column.type.family == "date":
            columns[column.name] = pd.Series(pc.strptime(values, "%Y-%m-%d", "s").to_numpy(zero_copy_only=False))
        elif column.type.family == "instant":
            columns[column.name] = pd.to_datetime(pd.Series(values.to_pandas()), format="ISO8601", utc=True)
        else:
            columns[column.name] = pd.Series(values.to_pandas(types_mapper={pa.string(): TEXT}.get))
    return contract.conform(pd.DataFrame(columns))


NULLABLE = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
