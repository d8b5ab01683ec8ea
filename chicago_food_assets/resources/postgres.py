"""PostgreSQL: the connection resource (a configured server or the embedded one) and a table of a contract."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2
from dagster import ConfigurableResource
from psycopg2 import sql
from pydantic import Field

from chicago_food_assets.core.declarations.columns import Contract


class PostgresResource(ConfigurableResource):
    """A PostgreSQL database by URL. Servers are started by whoever runs Dagster (the launcher), never by a run."""

    url: str = Field(description="postgresql://user:password@host:port/database")

    def dsn(self) -> str:
        return self.url.replace("postgresql+psycopg2://", "postgresql://")

    @contextmanager
    def connect(self) -> Iterator["psycopg2.extensions.connection"]:
        """A connection in UTC whose transaction commits on success and rolls back on any error."""
        connection = psycopg2.connect(self.dsn(), options="-c timezone=UTC")
        try:
            with connection:
                yield connection
        finally:
            connection.close()


@dataclass(frozen=True)
class Table:
    schema: str
    contract: Contract

    @property
    def name(self) -> str:
        return self.contract.name

    @property
    def partition_column(self) -> str | None:
        return self.contract.partition

    @property
    def identifier(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.name))

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"
