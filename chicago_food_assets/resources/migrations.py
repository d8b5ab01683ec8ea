"""Table migrations: create a table of its contract, add declared columns, rename renamed ones (`formerly`),
refuse removed or retyped ones; every change under a per-table lock, in the writer's transaction."""

import psycopg2
from psycopg2 import sql

from chicago_food_assets.resources.postgres import Table


class SchemaChangeError(RuntimeError):
    """The declared contract no longer matches the stored table; says which columns differ and how to proceed."""


def stored_columns(cursor: "psycopg2.extensions.cursor", table: Table) -> dict[str, str]:
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (table.schema, table.name),
    )
    return {name: "timestamptz" if kind == "timestamp with time zone" else kind for name, kind in cursor.fetchall()}


def lock(cursor: "psycopg2.extensions.cursor", table: Table) -> None:
    """Writers of one table take turns (a transaction-level advisory lock), so DDL never deadlocks a DELETE."""
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (str(table),))


def migrate(cursor: "psycopg2.extensions.cursor", table: Table) -> list[str]:
    """Create the table of the contract on first write; add declared columns, rename renamed ones (`formerly`);
    refuse removed or retyped ones.

    A retyped column that holds no value yet (say `row` of a rejects table that has never had a reject) is
    migrated in place; an unpartitioned table is replaced whole on every write, so it is recreated.
    Returns the added columns.
    """
    lock(cursor, table)
    declared = table.contract.postgres_types
    existing = stored_columns(cursor, table)
    if existing and table.partition_column is None and existing != declared:
        existing = drop_to_replace(cursor, table)
    if not existing:
        cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(table.schema)))
        cursor.execute(
            sql.SQL("CREATE TABLE {} ({})").format(
                table.identifier,
                sql.SQL(", ").join(
                    sql.SQL("{} {}{}").format(
                        sql.Identifier(c.name), sql.SQL(c.postgres), sql.SQL("" if c.nullable else " NOT NULL")
                    )
                    for c in table.contract.columns
                ),
            )
        )
        ensure_indexes(cursor, table)
        return []
    for column in table.contract.columns:  # declared renames (`formerly`) keep the stored values
        if column.formerly in existing and column.name not in existing:
            cursor.execute(
                sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {}").format(
                    table.identifier, sql.Identifier(column.formerly), sql.Identifier(column.name)
                )
            )
            existing[column.name] = existing.pop(column.formerly)
    missing = [name for name in existing if name not in declared]
    retyped = {name: kind for name, kind in declared.items() if name in existing and existing[name] != kind}
    for name, kind in list(retyped.items()):
        cursor.execute(sql.SQL("SELECT count({}) FROM {}").format(sql.Identifier(name), table.identifier))
        if cursor.fetchone()[0] == 0:
            cursor.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING NULL").format(
                    table.identifier, sql.Identifier(name), sql.SQL(kind)
                )
            )
            del retyped[name]
    if missing or retyped:
        raise SchemaChangeError(
            f"the declared contract no longer matches table {table}: "
            + "; ".join(
                part
                for part in (
                    f"columns missing from the contract: {missing}" if missing else "",
                    "columns with a new type: " + str([f"{n}: {existing[n]} -> {k}" for n, k in retyped.items()])
                    if retyped
                    else "",
                )
                if part
            )
            + f". Migrate the table or drop it (DROP TABLE {table}) and re-materialize every partition."
        )
    added = [name for name in declared if name not in existing]
    for name in added:
        cursor.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                table.identifier, sql.Identifier(name), sql.SQL(declared[name])
            )
        )
    if added:
        ensure_indexes(cursor, table)
    return added


def ensure_indexes(cursor: "psycopg2.extensions.cursor", table: Table) -> None:
    columns = ((table.partition_column,) if table.partition_column else ()) + table.contract.indexes
    for column in dict.fromkeys(columns):
        cursor.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                sql.Identifier(f"{table.name}_{column}_idx"), table.identifier, sql.Identifier(column)
            )
        )


def drop_to_replace(cursor: "psycopg2.extensions.cursor", table: Table) -> dict[str, str]:
    """DROP an unpartitioned table whose declared columns changed: such a table is replaced whole by every write,
    in the transaction this runs in, so the drop loses nothing the write does not replace (a failed write rolls the
    drop back). A partitioned table is never dropped here: its other weeks would be lost."""
    if table.partition_column is not None:
        raise SchemaChangeError(f"refusing to drop {table}: it is partitioned, and only this write's weeks are new")
    cursor.execute(sql.SQL("DROP TABLE {}").format(table.identifier))
    return {}
