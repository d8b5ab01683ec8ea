"""inspection_features: what is known about each inspection before it happens, plus its target."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
from dagster import AssetCheckResult, AssetExecutionContext, MetadataValue, Output, asset

from chicago_food_assets.assets.checks import Check, NoInfinityCheck, QualityChecks, Severity, ShapeCheck
from chicago_food_assets.assets.partitions import week_of
from chicago_food_assets.assets.types import key_of, weekly_table
from chicago_food_assets.core.beside import Beside
from chicago_food_assets.core.declarations import targets
from chicago_food_assets.core.declarations.contracts import (
    CLEAN_INSPECTIONS,
    INSPECTION_FEATURES,
    INSPECTION_VIOLATIONS,
)
from chicago_food_assets.core.features import own, peers, repeats
from chicago_food_assets.resources.history import History
from chicago_food_assets.resources.postgres import PostgresResource

KEY = key_of(INSPECTION_FEATURES)


@dataclass(frozen=True)
class NoFutureCheck(Check):
    """Rebuilds a sample of rows from the past alone, their own outcome changed (`own.verify_no_future`)."""

    sample: int = 200
    helper_rows: int = 50_000  # from this many rows, computed in a helper process (its start costs about 2 s)
    name: str = "no_feature_from_the_future"
    description: str = (
        "every feature of sampled rows is the same when rebuilt from strictly earlier days only, their outcome changed"
    )
    severity: Severity = "error"


FEATURE_CHECKS = QualityChecks(KEY, (NoInfinityCheck(), ShapeCheck(columns=own.COLUMNS, min_rows=0)))
NO_FUTURE = NoFutureCheck()


@asset(
    key=KEY,
    **weekly_table(INSPECTION_FEATURES),
    check_specs=[*FEATURE_CHECKS.specs, NO_FUTURE.spec(KEY)],
    group_name="features",
    description=INSPECTION_FEATURES.description,
)
def inspection_features(
    context: AssetExecutionContext,
    clean_inspections: pd.DataFrame,
    inspection_violations: pd.DataFrame,
    postgres: PostgresResource,
):
    window = context.partition_time_window
    stored = History(postgres)
    # Earlier weeks' inspections of the same establishments and chains, and of every place in the weeks the ZIP
    # window reaches back to: one query for the whole range.
    history = stored.earlier(
        CLEAN_INSPECTIONS,
        own.HISTORY_COLUMNS,
        before=window.start.date(),
        matching={name: clean_inspections[name].dropna().unique().tolist() for name in ("establishment", "chain")},
        since=week_of(window.start.date() - timedelta(days=peers.ZIP_DAYS)),
    )
    # an inspection whose date the portal moved into this range may still sit in its old week until that week is
    # refreshed: its stale copy is not its own history
    history = history[~history["inspection_id"].isin(clean_inspections["inspection_id"])]
    # the violations cited at the same establishments' earlier inspections (repeated violations): one query
    earlier_citations = stored.earlier(
        INSPECTION_VIOLATIONS,
        repeats.CITATION_COLUMNS,
        before=window.start.date(),
        matching={
            "inspection_id": history.loc[
                history["establishment"].isin(clean_inspections["establishment"]), "inspection_id"
            ].tolist()
        },
    )
    citations = pd.concat([inspection_violations[list(repeats.CITATION_COLUMNS)], earlier_citations])
    table = INSPECTION_FEATURES.conform(own.build(clean_inspections, history, citations))
    # a range's no-future check is computed in a helper process while the table is written (the same result)
    arguments = (clean_inspections, table, history, citations, NO_FUTURE.sample)
    check = Beside(own.verify_no_future, *arguments) if len(table) >= NO_FUTURE.helper_rows else None
    try:
        yield from _materialize(context, clean_inspections, table, len(history), len(earlier_citations))
        wrong = check.result() if check is not None else own.verify_no_future(*arguments)
    finally:
        if check is not None:
            check.close()
    yield NO_FUTURE.result(
        KEY, not wrong, {"rows_checked": min(NO_FUTURE.sample, len(table)), "wrong": wrong[:20] or "none"}
    )


def _materialize(
    context: AssetExecutionContext, clean_inspections: pd.DataFrame, table: pd.DataFrame, history: int, citations: int
) -> Iterator[Output | AssetCheckResult]:
    """The table with its metadata (`history` rows and their `citations` read), and the checks on its values."""
    null_rates = table[list(own.BUILT)].isna().mean().round(4)
    scope = "range_" if len(context.partition_keys) > 1 else ""  # a range run shows these on every week's page
    yield Output(
        table,
        metadata={
            f"{scope}rows_in": len(clean_inspections),
            f"{scope}rows_out": len(table),
            "history_rows_read": history,
            "history_citations_read": citations,
            "establishments": int(table["establishment"].nunique()),
            "fail_rate": float(table["failed"].mean()) if len(table) else 0.0,
            "critical_found_rate": float(table["critical_found"].mean())
            if table["critical_found"].notna().any()
            else 0.0,
            "critical_found_unknown": int(table["critical_found"].isna().sum()),
            "first_inspections": int((table["prior_inspections"] == 0).sum()),
            "feature_null_rates": MetadataValue.json(null_rates.to_dict()),
            "features": MetadataValue.json({"numeric": list(own.NUMERIC), "categorical": list(own.CATEGORICAL)}),
            "targets": MetadataValue.json(list(targets.TARGETS)),
        },
    )
    yield from FEATURE_CHECKS.evaluate(table)
