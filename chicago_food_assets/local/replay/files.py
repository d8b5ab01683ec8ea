"""The files of inspections users have, read as the rows the SODA API would send (`./run demo --data FILE`).

Accepted: Socrata JSON lines (what the API sends, one object a line), gzip-compressed or not whatever the file is
called; a JSON array of those objects; and the data portal's CSV export (`Inspection ID,DBA Name,...`), its header
names mapped to the API's (`License #` becomes `license_`), its dates (`01/07/2013`) to the API's form and its empty
cells left out, as the API leaves out empty fields. A line (or element) that cannot be read is a reject with its
number, not the end of the file; a file that is none of these, or a gzip file cut short (a download that stopped),
gets one line saying what it is and what is accepted. JSON lines are split at newlines only: U+2028 or U+0085
inside a value is text, not a line break. An inspection_id sent twice keeps the later row, as a portal edit does,
and the repeats are counted and named.
"""

import csv
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
from pyarrow import csv as pa_csv

from chicago_food_assets.core.ingestion.raw import FIELDS

ACCEPTED = "Socrata JSON lines (gzip or not), a JSON array of rows, or the data portal's CSV export"
REQUIRED = ("inspection_id", "inspection_date")  # a row without both is nobody's inspection
# Names other exports use for the API's fields, after lower-casing and joining words with "_" (`License #`).
ALIASES = {"license": "license_", "license_number": "license_", "zip_code": "zip", "dba": "dba_name"}


class DataFileError(ValueError):
    """A file that is not one of the accepted kinds, or holds no inspections: the message is one line for the user."""


@dataclass(frozen=True)
class Loaded:
    rows: list[dict]
    form: str  # which accepted kind the file is
    rejects: list[tuple[int, str]] = field(default_factory=list)  # (line, or element, number; what was wrong)
    renamed: dict[str, str] = field(default_factory=dict)  # the file's name -> the API's
    repeated: list[str] = field(default_factory=list)  # inspection ids sent more than once (the later row is kept)

    def days(self) -> tuple[str, str] | None:
        """The first and last readable inspection day (YYYY-MM-DD) not in the future, or None when no date reads.

        A row dated in the future is the cleaner's reject; it must not stretch the weeks a demo runs over."""
        values = pd.Series([row.get("inspection_date") for row in self.rows], dtype=object).astype(str)
        days = pd.to_datetime(values.str[:10], format="%Y-%m-%d", errors="coerce").dropna()
        days = days[days <= pd.Timestamp.now().normalize()]
        return (str(days.min().date()), str(days.max().date())) if len(days) else None

    def describe(self, path: str | Path, shown: int = 5) -> list[str]:
        """What was read, one line each: the rows, the names mapped, the rejects (the first few, by number)."""
        lines = [f"{Path(path).name}: {len(self.rows):,} rows ({self.form})"]
        if self.renamed:
            lines.append("  names mapped to the API's: " + ", ".join(f"{a} -> {b}" for a, b in self.renamed.items()))
        if self.rejects:
            unit = "line" if "lines" in self.form else "element"
            listed = "; ".join(
                f"{f'{unit} {number}' if number else 'end of file'}: {why}" for number, why in self.rejects[:shown]
            )
            more = f" (and {len(self.rejects) - shown} more)" if len(self.rejects) > shown else ""
            lines.append(f"  {len(self.rejects):,} could not be read and are left out: {listed}{more}")
        if self.repeated:
            ids = ", ".join(self.repeated[:shown]) + (" ..." if len(self.repeated) > shown else "")
            lines.append(
                f"  {len(self.repeated):,} rows repeat an inspection_id read before; the later row of each is kept, "
                f"as a portal edit replaces a row (ids: {ids})"
            )
        return lines


def load(path: str | Path) -> Loaded:
    """The rows of a data file, whatever accepted kind it is; `DataFileError` (one line) when it is none."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataFileError(f"{path}: cannot be read ({error.strerror or error})") from error
    if data[:2] == b"\x1f\x8b":  # gzip, by its magic number rather than its name
        data = _gunzip(path, data)
    try:
        text = data.decode("utf-8-sig")  # the portal's CSV export starts with a byte-order mark
    except UnicodeDecodeError as error:
        raise DataFileError(f"{path}: not UTF-8 text (a binary file?); accepted: {ACCEPTED}") from error
    start = text.lstrip()[:1]
    if not start:
        raise DataFileError(f"{path}: the file is empty; accepted: {ACCEPTED}")
    if start == "[":
        loaded = _array(path, text)
    elif start == "{":
        loaded = _lines(text)
    elif _csv_header(text):
        loaded = _csv(text)
    else:
        first = text.lstrip().splitlines()[0][:60]
        raise DataFileError(f"{path}: not a file of inspections (it starts {first!r}); accepted: {ACCEPTED}")
    loaded = _repeats(_api_names(loaded))
    if not any(all(name in row for name in REQUIRED) for row in loaded.rows):
        seen = sorted({name for row in loaded.rows[:1000] for name in row})[:12]
        raise DataFileError(
            f"{path}: no row has both {' and '.join(REQUIRED)} ({len(loaded.rows):,} rows read as {loaded.form}; "
            f"fields seen: {', '.join(seen) or 'none'}); accepted: {ACCEPTED}"
        )
    return loaded


def _gunzip(path: Path, data: bytes) -> bytes:
    """What a gzip file holds (every member); a file cut short is refused: its last line would be half a row."""
    out = []
    size = len(data)
    while data:
        stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out.append(stream.decompress(data))
        except zlib.error as error:
            raise DataFileError(f"{path}: a damaged gzip file ({error}); accepted: {ACCEPTED}") from error
        if not stream.eof:
            if not any(out):
                raise DataFileError(f"{path}: a damaged gzip file (nothing in it can be read); accepted: {ACCEPTED}")
            raise DataFileError(
                f"{path}: the gzip file is cut short (its {size:,} bytes end inside the stream, after "
                f"{sum(map(len, out)):,} bytes of text): a download that stopped; fetch it again; accepted: {ACCEPTED}"
            )
        data = stream.unused_data
    return b"".join(out)


def _lines(text: str) -> Loaded:
    rows, rejects = [], []
    # str.splitlines also breaks at U+2028, U+0085 and other characters JSON strings may hold: newlines only
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:
            rejects.append((number, f"not complete JSON ({error})"))
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            rejects.append((number, f"a JSON {type(row).__name__}, not an object"))
    return Loaded(rows, "JSON lines", rejects)


def _array(path: Path, text: str) -> Loaded:
    try:
        elements = json.loads(text)
    except ValueError as error:
        raise DataFileError(f"{path}: a JSON array that is cut or malformed ({error}); accepted: {ACCEPTED}") from error
    if not isinstance(elements, list):
        raise DataFileError(f"{path}: JSON that is not an array of rows; accepted: {ACCEPTED}")
    rows = [element for element in elements if isinstance(element, dict)]
    rejects = [
        (number, f"a JSON {type(element).__name__}, not an object")
        for number, element in enumerate(elements, start=1)
        if not isinstance(element, dict)
    ]
    return Loaded(rows, "JSON array", rejects)


def api_name(name: str) -> str:
    """The API's name for a field as another export spells it (`License #` -> `license_`); unknown names as given."""
    if name in FIELDS:
        return name
    simple = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    simple = ALIASES.get(simple, simple)
    return simple if simple in FIELDS else name


def _csv_header(text: str) -> bool:
    header = text.lstrip().splitlines()[0]
    names = {api_name(name.strip().strip('"')) for name in header.split(",")}
    return set(REQUIRED) <= names


def _csv(text: str) -> Loaded:
    """Arrow's CSV reader (C++): every cell text, quoted newlines (2011-2012 violations) and NUL bytes kept."""
    header = next(csv.reader(io.StringIO(text)))
    table = pa_csv.read_csv(
        io.BytesIO(text.encode()),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
        ),
    )
    frame = table.to_pandas()
    renamed = {name: api_name(name) for name in frame.columns if api_name(name) != name}
    frame = frame.rename(columns=renamed)
    if "inspection_date" in frame.columns:  # the export's 01/07/2013 as the API sends it: 2013-01-07T00:00:00.000
        day = pd.to_datetime(frame["inspection_date"], format="%m/%d/%Y", errors="coerce")
        iso = day.dt.strftime("%Y-%m-%dT00:00:00.000")
        frame["inspection_date"] = iso.where(day.notna(), frame["inspection_date"])
    records = frame.to_dict("records")
    rows = [{name: value for name, value in record.items() if value != ""} for record in records]  # empty: absent
    return Loaded(rows, "portal CSV export", [], renamed)


def _repeats(loaded: Loaded) -> Loaded:
    """The ids sent more than once, counted (each repeat once) and named: the replay server keeps the later row."""
    ids = pd.Series([str(row.get("inspection_id")) for row in loaded.rows], dtype=object)
    repeated = ids[ids.duplicated(keep="first")].tolist()
    if not repeated:
        return loaded
    return Loaded(loaded.rows, loaded.form, loaded.rejects, loaded.renamed, repeated)


def _api_names(loaded: Loaded) -> Loaded:
    """Rows with the API's field names, when the file used another export's."""
    names = {name for row in loaded.rows for name in row}
    renamed = {name: api_name(name) for name in names if api_name(name) != name and api_name(name) not in names}
    if not renamed:
        return loaded
    rows = [{renamed.get(name, name): value for name, value in row.items()} for row in loaded.rows]
    return Loaded(rows, loaded.form, loaded.rejects, {**loaded.renamed, **renamed}, loaded.repeated)
