"""Dagster's PostgreSQL storage, holding its connections open for the life of the process.

dagster-postgres opens a new connection for every statement it runs (SQLAlchemy's NullPool), so that many
instances in one deployment never pile up idle connections. A run of a weekly range writes thousands of events (one
materialization per week per asset), each a few statements, and a new PostgreSQL connection costs a process fork
and a login: measured here, most of a range run's bookkeeping. This storage keeps a small pool per process
(`pool_size` connections, `max_overflow` more under load, checked before use and recycled hourly), as the Dagster
webserver already does for itself. Configured in dagster.yaml as `storage: custom:`.

With Dagster's event batching on (DAGSTER_EVENT_BATCH_SIZE), dagster-postgres writes a batch of materializations in
one INSERT but the planned events a range run starts with (one per week per asset) still one by one: 4,400 of them,
about 30 s, for a backfill of every week since 2010. They are written here the way dagster-postgres writes a batch of
materializations: one INSERT per asset, then the asset's row updated from its last event.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.config import pg_config
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage, PostgresEventLogStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config


class BatchedEventLogStorage(PostgresEventLogStorage):
    """dagster-postgres's event log, with planned materializations written in batches too."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        planned = DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        by_asset: dict[str, list[EventLogEntry]] = defaultdict(list)
        others = []
        for event in events:
            dagster_event = event.get_dagster_event()
            if dagster_event.event_type == planned and dagster_event.asset_key:
                by_asset[dagster_event.asset_key.to_string()].append(event)
            else:
                others.append(event)
        for group in by_asset.values():
            with self._connect() as conn:
                rows = conn.execute(self.prepare_insert_event_batch(group).returning(SqlEventLogStorageTable.c.id))
                ids = [int(row[0]) for row in rows.fetchall()]
            with self.index_transaction() as conn:
                self._store_asset_event_tags(conn, group, ids)
                self._store_asset_event(conn, group[-1], ids[-1])
        if others:
            super().store_event_batch(others)


class PooledPostgresStorage(DagsterPostgresStorage):
    """`DagsterPostgresStorage` (same tables, same config plus `pool_size`/`max_overflow`) with pooled connections."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        pool_size: int = 3,
        max_overflow: int = 2,
        token_provider: Any = None,
    ) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data=inst_data, token_provider=token_provider)
        self._event_log_storage.dispose()  # the parent builds dagster-postgres's own; ours replaces it
        self._event_log_storage = BatchedEventLogStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            storage._engine.dispose()
            storage._engine = create_pg_engine(
                postgres_url,
                token_provider,
                isolation_level="AUTOCOMMIT",
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_pre_ping=True,  # a connection the server dropped is replaced, not failed on
                pool_recycle=3600,
            )

    @classmethod
    def config_type(cls) -> Mapping[str, Any]:
        from dagster import Field, IntSource

        return {
            **pg_config(),
            "pool_size": Field(IntSource, is_required=False, default_value=3),
            "max_overflow": Field(IntSource, is_required=False, default_value=2),
        }

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "PooledPostgresStorage":
        return cls(
            pg_url_from_config(config_value),
            config_value.get("should_autocreate_tables", True),
            inst_data=inst_data,
            pool_size=config_value.get("pool_size", 3),
            max_overflow=config_value.get("max_overflow", 2),
            token_provider=get_token_provider_from_config(config_value),
        )
