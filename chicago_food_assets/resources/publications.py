"""The write half of the publication protocol: each table's write count, bumped in the write's own transaction;
the read half (the score API's ETags) is service/api/versions.py."""

import psycopg2
from psycopg2 import sql

from chicago_food_assets.resources.postgres import PostgresResource, Table

PUBLICATIONS = "publications"  # per schema: each table's write count, bumped in the write's own transaction


def publish(cursor: "psycopg2.extensions.cursor", table: Table) -> None:
    """Counts the write in `<schema>.publications` within the write's own transaction: a reader that sees the new
    count sees the new rows. The score API derives its ETags from these counts (service/api/app.py)."""
    publications = sql.Identifier(table.schema, PUBLICATIONS)
    cursor.execute(
        sql.SQL(
            "INSERT INTO {} (table_name, version, written_at) VALUES (%s, 1, now()) "
            "ON CONFLICT (table_name) DO UPDATE SET version = {}.version + 1, written_at = now()"
        ).format(publications, publications),
        (table.name,),
    )


def ensure_publications(postgres: PostgresResource, schema: str) -> None:
    """The publications table, created in a short transaction of its own under a lock of its own, so that writers
    of different tables never wait for each other's COPY."""
    with postgres.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{schema}.{PUBLICATIONS}",))
        cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cursor.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} "
                "(table_name text PRIMARY KEY, version bigint NOT NULL, written_at timestamptz NOT NULL)"
            ).format(sql.Identifier(schema, PUBLICATIONS))
        )
