"""The history the assets read: earlier (or newest) rows of the weekly tables, as a repository over the table store."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd
from psycopg2 import sql

from chicago_food_assets.core.declarations.columns import Contract
from chicago_food_assets.core.declarations.contracts import SCHEMA
from chicago_food_assets.resources.postgres import PostgresResource, Table
from chicago_food_assets.resources.tables import read_rows


@dataclass(frozen=True)
class History:
    """Earlier rows: what a week's features read, where a changed inspection is stored, each place's newest score."""

    postgres: PostgresResource

    def earlier(
        self,
        contract: Contract,
        columns: Sequence[str],
        before: date,
        matching: Mapping[str, Sequence[object]],
        since: date | None = None,
    ) -> pd.DataFrame:
        """Rows of a weekly table whose week is before `before` and either whose column is one of its `matching`
        values, or whose week is `since` or later: one query."""
        table = Table(SCHEMA, contract.select(columns))
        wanted = [
            sql.SQL("{} = ANY({})").format(sql.Identifier(column), sql.Literal(list(values)))
            for column, values in matching.items()
        ]
        if since is not None:
            wanted.append(sql.SQL("{} >= {}").format(sql.Identifier(contract.partition), sql.Literal(since)))
        condition = sql.SQL("({}) AND {} < {}").format(
            sql.SQL(" OR ").join(wanted) if wanted else sql.SQL("false"),
            sql.Identifier(contract.partition),
            sql.Literal(before),
        )
        return read_rows(self.postgres, table, condition)

    def stored_weeks(self, contract: Contract, ids: Sequence[int]) -> list[tuple[int, date]]:
        """(inspection_id, week) of every stored copy of these ids in a weekly table (none when it is new)."""
        if contract.partition is None:
            raise ValueError(f"{contract.name} is not a weekly table: its copies have no week")
        table = Table(SCHEMA, contract.select(["inspection_id", contract.partition]))
        condition = sql.SQL("inspection_id = ANY({})").format(sql.Literal(list(ids)))
        try:
            rows = read_rows(self.postgres, table, condition)
        except LookupError:
            return []
        return list(zip(rows["inspection_id"].astype(int), rows[contract.partition].dt.date, strict=True))

    def before(self, contract: Contract, columns: Sequence[str], before: date) -> pd.DataFrame:
        """Every row of a weekly table whose week is before `before` (none when the table does not exist yet)."""
        table = Table(SCHEMA, contract.select(columns))
        condition = sql.SQL("{} < {}").format(sql.Identifier(contract.partition), sql.Literal(before))
        try:
            return read_rows(self.postgres, table, condition)
        except LookupError:
            return contract.select(columns).empty()

    def latest(self, contract: Contract, key: str, order: Sequence[str]) -> pd.DataFrame:
        """The last row of each `key` value by `order` (its newest), all of the contract's columns: one query, the
        rest of the table never leaves the database."""
        table = Table(SCHEMA, contract)
        columns = sql.SQL(", ").join(map(sql.Identifier, (key, *order)))
        newest = sql.SQL("SELECT DISTINCT ON ({}) {} FROM {} ORDER BY {}, {}").format(
            sql.Identifier(key),
            columns,
            table.identifier,
            sql.Identifier(key),
            sql.SQL(", ").join(sql.SQL("{} DESC").format(sql.Identifier(name)) for name in order),
        )
        return read_rows(self.postgres, table, sql.SQL("({}) IN ({})").format(columns, newest))

    def counts(self, contract: Contract, key: str) -> pd.Series:
        """How many rows each `key` value has, by that value."""
        query = sql.SQL("SELECT {0}, count(*) FROM {1} GROUP BY {0}").format(
            sql.Identifier(key), Table(SCHEMA, contract).identifier
        )
        with self.postgres.connect() as connection, connection.cursor() as cursor:
            cursor.execute(query)
            found = cursor.fetchall()
        return pd.Series(dict(found), dtype="int64").rename_axis(key)

    def newest_week(self, contract: Contract) -> date | None:
        """The newest week a weekly table holds rows of (None when it holds none)."""
        query = sql.SQL("SELECT max({}) FROM {}").format(
            sql.Identifier(contract.partition), Table(SCHEMA, contract).identifier
        )
        with self.postgres.connect() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{contract.name}",))
            if cursor.fetchone()[0] is None:
                return None
            cursor.execute(query)
            return cursor.fetchone()[0]
