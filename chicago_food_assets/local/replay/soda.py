"""The part of the SODA 2.0 query language the project uses, evaluated on an in-memory table.

Vectorised over columns (numpy masks, pandas sorts): the replay server answers a 16-year pull in one request.
"""

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

NUMERIC_FIELDS = frozenset({"inspection_id", "license_", "zip", "latitude", "longitude"})
DATE_FIELDS = frozenset({"inspection_date"})
DEFAULT_LIMIT = 1000
MAX_LIMIT = 50000
_DATE_TEMPLATE = "0000-01-01T00:00:00.000"

_CONDITION = re.compile(
    r"^\s*(?P<field>[a-z_:][a-z0-9_]*)\s*(?P<op><=|>=|!=|<>|=|<|>)\s*(?P<value>'(?:[^']|'')*'|-?\d+(?:\.\d+)?)\s*$",
    re.IGNORECASE,
)
_SELECT_ITEM = re.compile(
    r"^\s*(?:(?P<func>count|max|min)\s*\(\s*(?P<arg>\*|:?[a-z_][a-z0-9_]*)\s*\)|(?P<field>:?[a-z_][a-z0-9_]*))"
    r"(?:\s+as\s+(?P<alias>[a-z_][a-z0-9_]*))?\s*$",
    re.IGNORECASE,
)
_ORDER_ITEM = re.compile(r"^\s*(?P<field>[a-z_:][a-z0-9_]*)(?:\s+(?P<dir>asc|desc))?\s*$", re.IGNORECASE)


class QueryError(ValueError):
    """A query the server cannot compile; answered with HTTP 400 like Socrata's `query.compiler.malformed`."""


def normalise_date(value: str) -> str:
    """Pad an ISO date or timestamp to Socrata's floating timestamp form so strings compare as dates."""
    return value + _DATE_TEMPLATE[len(value) :] if len(value) < len(_DATE_TEMPLATE) else value


UPDATED_AT = ":updated_at"  # Socrata's system field: when the row last changed on the portal
LOADED_AT = "2025-01-01T00:00:00.000Z"


class Table:
    """Rows as received (dicts of strings) plus typed columns for filtering and ordering."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows: list[dict] = []
        self.updated: list[str] = []
        self._index: dict[str, int] = {}
        self._last = LOADED_AT
        self.upsert(rows, LOADED_AT)

    def upsert(self, rows: list[dict], when: str | None = None) -> tuple[int, int]:
        """Add new rows and replace rows with the same `inspection_id` (a late edit on the portal)."""
        stamp = when or self._next_stamp()
        added = replaced = 0
        for row in rows:
            key = str(row.get("inspection_id"))
            if key in self._index:
                self.rows[self._index[key]] = row
                self.updated[self._index[key]] = stamp
                replaced += 1
            else:
                self._index[key] = len(self.rows)
                self.rows.append(row)
                self.updated.append(stamp)
                added += 1
        self._columns: dict[str, pd.Series] = {}
        return added, replaced

    def _next_stamp(self) -> str:
        """Now, in Socrata's format, strictly after the previous stamp (two edits in one millisecond stay ordered)."""
        from datetime import UTC, datetime, timedelta

        now = datetime.now(UTC)
        last = datetime.strptime(self._last, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        stamp = max(now, last + timedelta(milliseconds=1))
        self._last = stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
        return self._last

    def column(self, field: str) -> pd.Series:
        if field not in self._columns:
            source = self.updated if field == UPDATED_AT else [row.get(field) for row in self.rows]
            values = pd.Series(source, dtype=object)
            if field in NUMERIC_FIELDS:
                values = pd.to_numeric(values, errors="coerce")
            elif field in DATE_FIELDS:
                values = values.map(normalise_date, na_action="ignore")
            self._columns[field] = values
        return self._columns[field]


@dataclass(frozen=True)
class Query:
    where: list[tuple[str, str, object]]
    select: list[tuple[str | None, str, str]] | None  # (function, argument, output name)
    group: list[str]
    order: list[tuple[str, bool]]
    limit: int
    offset: int


def parse_query(params: dict[str, str]) -> Query:
    unknown = sorted(
        k
        for k in params
        if k.startswith("$") and k not in {"$where", "$select", "$group", "$order", "$limit", "$offset"}
    )
    if unknown:
        raise QueryError(f"unsupported parameter(s): {', '.join(unknown)}")
    return Query(
        where=_parse_where(params.get("$where", "")),
        select=_parse_select(params["$select"]) if "$select" in params else None,
        group=[g.strip() for g in params.get("$group", "").split(",") if g.strip()],
        order=_parse_order(params.get("$order", "")),
        limit=_parse_int(params, "$limit", DEFAULT_LIMIT, 0, MAX_LIMIT),
        offset=_parse_int(params, "$offset", 0, 0, None),
    )


def _parse_int(params: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or (high is not None and int(raw) > high) or int(raw) < low:
        raise QueryError(
            f"{name} must be an integer between {low} and {high if high is not None else 'infinity'}, got {raw!r}"
        )
    return int(raw)


def _parse_where(text: str) -> list[tuple[str, str, object]]:
    if not text.strip():
        return []
    conditions = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = _CONDITION.match(part)
        if not match:
            raise QueryError(f"cannot parse condition {part!r} in $where")
        field, op, value = match["field"], match["op"], match["value"]
        if value.startswith("'"):
            literal: object = value[1:-1].replace("''", "'")
            if field in NUMERIC_FIELDS:
                try:
                    literal = float(literal)
                except ValueError as error:
                    raise QueryError(f"{field} compares with a number, got {value}") from error
            elif field in DATE_FIELDS:
                literal = normalise_date(str(literal))
        else:
            literal = float(value)
        conditions.append((field, "!=" if op == "<>" else op, literal))
    return conditions


def _parse_select(text: str) -> list[tuple[str | None, str, str]]:
    items = []
    for part in text.split(","):
        match = _SELECT_ITEM.match(part)
        if not match:
            raise QueryError(f"cannot parse {part!r} in $select")
        if match["func"]:
            func, arg = match["func"].lower(), match["arg"]
            name = match["alias"] or ("count" if func == "count" else f"{func}_{arg.lstrip(':')}")
            items.append((func, arg, name))
        else:
            items.append((None, match["field"], match["alias"] or match["field"]))
    return items


def _parse_order(text: str) -> list[tuple[str, bool]]:
    order = []
    for part in filter(str.strip, text.split(",")):
        match = _ORDER_ITEM.match(part)
        if not match:
            raise QueryError(f"cannot parse {part!r} in $order")
        order.append((match["field"], (match["dir"] or "asc").lower() == "asc"))
    return order


_OPS = {
    "=": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def run(table: Table, query: Query) -> list[dict]:
    """Evaluate a query; returns the JSON-ready rows of the answer page."""
    positions = np.arange(len(table.rows))
    mask = np.ones(len(positions), dtype=bool)
    for field, op, literal in query.where:
        values = table.column(field)
        present = values.notna().to_numpy()
        compared = np.zeros(len(positions), dtype=bool)
        compared[present] = _OPS[op](values.to_numpy()[present], literal)
        mask &= compared
    positions = positions[mask]

    if query.select is not None and (query.group or any(func for func, _, _ in query.select)):
        return _aggregate(table, positions, query)

    if query.order:
        frame = pd.DataFrame(
            {f"k{i}": table.column(field).to_numpy()[positions] for i, (field, _) in enumerate(query.order)}
        )
        frame["position"] = positions
        frame = frame.sort_values(
            [f"k{i}" for i in range(len(query.order))] + ["position"],
            ascending=[asc for _, asc in query.order] + [True],
            kind="stable",
            na_position="first",
        )
        positions = frame["position"].to_numpy()
    page = positions[query.offset : query.offset + query.limit]
    rows = [table.rows[i] for i in page]
    if query.select is not None:
        rows = [
            {
                name: (table.updated[i] if field == UPDATED_AT else table.rows[i][field])
                for _, field, name in query.select
                if field == UPDATED_AT or field in table.rows[i]
            }
            for i in page
        ]
    return rows


def _aggregate(table: Table, positions: np.ndarray, query: Query) -> list[dict]:
    assert query.select is not None
    frame = pd.DataFrame({field: table.column(field).to_numpy()[positions] for field in query.group})
    raw_fields = {arg for func, arg, _ in query.select if func in ("max", "min")}
    for field in raw_fields:
        raw = table.updated if field == UPDATED_AT else [row.get(field) for row in table.rows]
        frame[f"raw:{field}"] = pd.Series([raw[i] for i in positions], dtype=object)
        frame[f"key:{field}"] = table.column(field).to_numpy()[positions]
    frame["one"] = 1
    groups = frame.groupby(query.group, dropna=False, sort=True) if query.group else None
    out: dict[str, pd.Series | list] = {}
    for func, arg, name in query.select:
        if func is None:
            if arg not in query.group:
                raise QueryError(f"{arg} must appear in $group or be aggregated")
            out[name] = groups.size().index.get_level_values(arg) if groups is not None else []
        elif func == "count":
            out[name] = (groups["one"].sum() if groups is not None else pd.Series([int(frame["one"].sum())])).astype(
                str
            )
        else:
            keys = frame[f"key:{arg}"]
            if groups is None:
                best = (keys.idxmax() if func == "max" else keys.idxmin()) if keys.notna().any() else None
                out[name] = [None if best is None else frame.at[best, f"raw:{arg}"]]
            else:
                best = groups[f"key:{arg}"].idxmax() if func == "max" else groups[f"key:{arg}"].idxmin()
                out[name] = frame[f"raw:{arg}"].reindex(best.to_numpy()).to_numpy()
    result = pd.DataFrame({name: np.asarray(values, dtype=object) for name, values in out.items()})
    rows = result.to_dict("records")
    page = rows[query.offset : query.offset + query.limit]
    return [
        {k: v for k, v in row.items() if v is not None and not (isinstance(v, float) and np.isnan(v))} for row in page
    ]
