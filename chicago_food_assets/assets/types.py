"""Dagster's view of the declared contracts (core/declarations/contracts.py): dagster-pandas types and table metadata.

Nothing here declares a column: it only translates the contracts, so a table's shape is written once.
"""

from collections.abc import Mapping
from typing import Any

import pandas as pd
from dagster import (
    AssetKey,
    BackfillPolicy,
    DagsterType,
    MetadataValue,
    PartitionsDefinition,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
)
from dagster_pandas import PandasColumn, create_dagster_pandas_dataframe_type

from chicago_food_assets.assets.partitions import weekly
from chicago_food_assets.core.declarations.columns import Column, Contract
from chicago_food_assets.core.declarations.contracts import CONTRACTS


def key_of(contract: Contract) -> AssetKey:
    """The asset that stores the contract's table: a table's asset is named as the table."""
    return AssetKey(contract.name)


def column_schema(contract: Contract) -> TableSchema:
    """The contract as Dagster's standard `dagster/column_schema` (column type = the contract's kind)."""
    return TableSchema(
        columns=[
            TableColumn(c.name, c.kind, c.description or None, TableColumnConstraints(nullable=c.nullable))
            for c in contract.columns
        ]
    )


def contract_of(name: str, metadata: Mapping[str, Any]) -> Contract:
    """The contract an asset declares in its definition metadata (`dagster/column_schema`, `partition_expr`,
    `indexes`, `renamed`)."""
    schema = metadata.get("dagster/column_schema")
    if schema is None:
        raise ValueError(f"table asset {name} declares no `dagster/column_schema`: tables are typed by declaration")
    schema = getattr(schema, "schema", schema)  # a TableSchemaMetadataValue or the TableSchema itself
    renamed = metadata.get("renamed", {})
    renamed = getattr(renamed, "data", renamed)
    return Contract(
        name,
        "",
        tuple(Column(c.name, c.type, c.constraints.nullable, formerly=renamed.get(c.name)) for c in schema.columns),
        metadata.get("partition_expr"),
        tuple(metadata.get("indexes", ())),
    )


TEXT_TYPES = frozenset({"object", "category", "string"})  # "string": Arrow-backed strings


def _pandas_column(column: Column) -> PandasColumn:
    low, high = column.bounds or (None, None)
    low, high = -float("inf") if low is None else low, float("inf") if high is None else high
    required = {"non_nullable": not column.nullable, "ignore_missing_vals": column.nullable}
    if column.type.family == "integer":
        return PandasColumn.integer_column(column.name, min_value=low, max_value=high, unique=column.unique, **required)
    if column.type.family == "float":
        return PandasColumn.float_column(column.name, min_value=low, max_value=high, **required)
    if column.type.family in ("date", "instant"):
        return PandasColumn.datetime_column(
            column.name, tz="UTC" if column.type.family == "instant" else None, **required
        )
    if column.type.family == "boolean":
        return PandasColumn.boolean_column(column.name, **required)
    if column.values is not None:
        return PandasColumn.categorical_column(
            column.name, categories=set(column.values), of_types=TEXT_TYPES, **required
        )
    return PandasColumn.exists(column.name, **required)


def dataframe_type(contract: Contract) -> DagsterType:
    """The contract as a dagster-pandas DataFrame type: a broken frame fails the type check naming the column."""
    name = "".join(part.title() for part in contract.name.split("_"))
    return create_dagster_pandas_dataframe_type(
        name=name, description=contract.description, columns=[_pandas_column(c) for c in contract.columns]
    )


def table_metadata(contract: Contract) -> dict[str, Any]:
    """Definition metadata of a table asset: its column schema, partition column, indexes and renames."""
    metadata: dict[str, Any] = {"dagster/column_schema": MetadataValue.table_schema(column_schema(contract))}
    if contract.partition:
        metadata["partition_expr"] = contract.partition
    if contract.indexes:
        metadata["indexes"] = list(contract.indexes)
    renamed = {c.name: c.formerly for c in contract.columns if c.formerly}
    if renamed:
        metadata["renamed"] = renamed  # column -> its earlier name: stored tables are renamed in place
    return metadata


TYPES = {name: dataframe_type(contract) for name, contract in CONTRACTS.items()}


def table_asset(contract: Contract) -> dict[str, Any]:
    """What every table asset declares alike: stored by the table IO manager, typed and described by its contract
    (the asset adds its key, inputs, checks, group and description)."""
    return {
        "io_manager_key": "table_io_manager",
        "metadata": table_metadata(contract),
        "dagster_type": TYPES[contract.name],
        "kinds": {"python", "postgres"},
    }


def weekly_table(contract: Contract, partitions: PartitionsDefinition = weekly) -> dict[str, Any]:
    """A weekly table: weekly partitions (or `partitions`), backfilled in one run per range."""
    return {**table_asset(contract), "partitions_def": partitions, "backfill_policy": BackfillPolicy.single_run()}


def markdown(frame: pd.DataFrame, empty: str) -> MetadataValue:
    """A small table as materialization metadata: nulls as blank cells, `empty`'s words when it has no rows."""
    return MetadataValue.md(
        frame.astype(object).where(frame.notna(), "").to_markdown(index=False) if len(frame) else empty
    )
