"""clean_inspections, inspection_violations, inspection_rejects, visits_without_outcome: the week's raw rows made
typed and counted."""

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    BackfillPolicy,
    MetadataValue,
    Output,
    multi_asset,
)

from chicago_food_assets.assets.checks import Check, NoInfinityCheck, QualityChecks, Rule, ShapeCheck
from chicago_food_assets.assets.partitions import weekly
from chicago_food_assets.assets.types import TYPES, key_of, markdown, table_metadata
from chicago_food_assets.core.declarations.columns import Contract
from chicago_food_assets.core.declarations.contracts import (
    CLEAN_INSPECTIONS,
    INSPECTION_REJECTS,
    INSPECTION_VIOLATIONS,
    VISITS_WITHOUT_OUTCOME,
)
from chicago_food_assets.core.ingestion import cleaning
from chicago_food_assets.core.ingestion.cleaning import clean
from chicago_food_assets.resources.history import History
from chicago_food_assets.resources.postgres import PostgresResource

CLEAN = key_of(CLEAN_INSPECTIONS)


def _repeated_ids(frame: pd.DataFrame) -> tuple[bool, dict]:
    repeated = int(frame["inspection_id"].duplicated().sum())
    return repeated == 0, {"repeated_ids": repeated}


CLEAN_CHECKS = QualityChecks(
    CLEAN,
    (
        NoInfinityCheck(),
        ShapeCheck(columns=cleaning.COLUMNS, min_rows=0),
        Rule("unique_inspection_id", "no inspection_id appears twice", "error", _repeated_ids),
    ),
)
DROPPED_SHARE = Check("dropped_share", "share of raw rows dropped or rejected in any week stays under a bound", "warn")
ONE_WEEK = Check(
    "one_week_per_inspection",
    "no inspection_id written here is also stored under another week (a moved inspection's stale copy)",
    "error",
)
MAX_DROPPED_SHARE = 0.35  # in the bundled sample ~9% of rows are dropped (no license, not an outcome)


def _table(contract: Contract) -> AssetOut:
    """A weekly table of a declared contract, written by the Postgres IO manager."""
    return AssetOut(
        io_manager_key="table_io_manager",
        metadata=table_metadata(contract),
        description=contract.description,
        kinds={"python", "postgres"},
        dagster_type=TYPES[contract.name],
    )


@multi_asset(
    outs={
        c.name: _table(c)
        for c in (CLEAN_INSPECTIONS, INSPECTION_VIOLATIONS, INSPECTION_REJECTS, VISITS_WITHOUT_OUTCOME)
    },
    ins={"raw_inspections": AssetIn()},
    partitions_def=weekly,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[*CLEAN_CHECKS.specs, DROPPED_SHARE.spec(CLEAN), ONE_WEEK.spec(CLEAN)],
    group_name="cleaning",
    name="cleaning",
)
def cleaning_assets(context: AssetExecutionContext, raw_inspections: pd.DataFrame, postgres: PostgresResource):
    window = context.partition_time_window
    cleaned = clean(raw_inspections, window.start.replace(tzinfo=None), window.end.replace(tzinfo=None))
    inspections = CLEAN_INSPECTIONS.conform(cleaned.inspections)
    rejects = INSPECTION_REJECTS.conform(cleaned.rejects)
    dropped = {reason: count for reason, count in cleaned.dropped.items() if count}
    rows_in = len(raw_inspections)
    by_week = _by_week(cleaned, inspections, rejects)
    # In a range run Dagster shows the same metadata on every week's page: the totals are named as the range's
    # and each week's own counts are in `by_week`.
    scope = "range_" if len(context.partition_keys) > 1 else ""
    yield Output(
        inspections,
        "clean_inspections",
        metadata={
            "weeks": len(context.partition_keys),
            f"{scope}rows_in": rows_in,
            f"{scope}rows_out": len(inspections),
            f"{scope}rows_dropped": sum(cleaned.dropped.values()),
            f"{scope}rows_rejected": len(rejects),
            f"{scope}dropped_by_reason": MetadataValue.json(dropped or {"none": 0}),
            f"{scope}rejected_by_reason": MetadataValue.json(rejects["reason"].value_counts().to_dict() or {"none": 0}),
            f"{scope}repaired_by_reason": MetadataValue.json(cleaned.repaired),
            "by_week": markdown(by_week, "_no rows_"),
            "identical_rows_under_other_ids": cleaned.identical_under_other_ids,
            "fail_rate": float(inspections["failed"].mean()) if len(inspections) else 0.0,
            "facility_types": MetadataValue.json(inspections["facility_type"].value_counts().head(20).to_dict()),
            "with_violations_recorded": int(inspections["violations_recorded"].sum()),
            "outside_chicago": int(inspections["outside_chicago"].sum()),
            "preview": MetadataValue.md(_preview(inspections)),
        },
    )
    yield Output(
        INSPECTION_VIOLATIONS.conform(cleaned.violations),
        "inspection_violations",
        metadata={
            "by_scheme_and_severity": MetadataValue.json(
                {
                    f"{scheme}/{severity}": int(n)
                    for (scheme, severity), n in cleaned.violations.groupby(["scheme", "severity"]).size().items()
                }
            ),
            "unparsed_items": cleaned.unparsed_violation_items,
            "unknown_numbers": cleaned.unknown_violation_numbers,
        },
    )
    yield Output(rejects, "inspection_rejects")  # the IO manager reports the row count
    visits = VISITS_WITHOUT_OUTCOME.conform(cleaned.visits)
    yield Output(
        visits,
        "visits_without_outcome",
        metadata={"by_result": MetadataValue.json(visits["results"].value_counts().to_dict() or {"none": 0})},
    )
    yield from CLEAN_CHECKS.evaluate(inspections)
    stored = History(postgres).stored_weeks(
        CLEAN_INSPECTIONS, inspections["inspection_id"].dropna().astype(int).tolist()
    )
    start, end = window.start.date(), window.end.date()
    elsewhere = {str(i): str(w) for i, w in stored if not start <= w < end}
    yield ONE_WEEK.result(
        CLEAN,
        not elsewhere,
        {
            "ids_in_another_week": len(elsewhere),
            "examples": MetadataValue.json(dict(list(elsewhere.items())[:20]) or {"none": 0}),
            "remedy": "refresh the other weeks (the Socrata sensor does when it sees the move)",
        },
    )
    shares = cleaned.dropped_share_by_week()
    over = shares[shares > MAX_DROPPED_SHARE]
    yield DROPPED_SHARE.result(
        CLEAN,
        over.empty,
        {
            "max_share": float(shares.max()) if len(shares) else 0.0,
            "bound": MAX_DROPPED_SHARE,
            "weeks_over": [f"{week:%Y-%m-%d}: {share:.0%}" for week, share in over.head(20).items()] or "none",
        },
    )


def _by_week(cleaned: cleaning.Cleaned, inspections: pd.DataFrame, rejects: pd.DataFrame) -> pd.DataFrame:
    """Each week's own counts: rows received, cleaned, rejected, and dropped (the rest)."""
    table = (
        pd.DataFrame(
            {
                "rows_in": cleaned.rows_in_by_week,
                "rows_out": inspections["week"].value_counts(),
                "rows_rejected": rejects["week"].value_counts(),
            }
        )
        .fillna(0)
        .astype(int)
    )
    table["rows_dropped"] = (table["rows_in"] - table["rows_out"] - table["rows_rejected"]).clip(lower=0)
    table.index = [f"{week:%Y-%m-%d}" for week in table.index]
    return table.rename_axis("week").reset_index()


def _preview(frame: pd.DataFrame, rows: int = 5) -> str:
    columns = ["inspection_id", "inspection_date", "establishment", "facility_type", "risk", "results"]
    head = frame[columns].head(rows).astype(object).where(frame[columns].head(rows).notna(), "")
    return head.to_markdown(index=False) if len(frame) else "_no inspections this week_"
