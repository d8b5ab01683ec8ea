"""raw_inspections: each week's rows exactly as Socrata sent them, in object storage."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    Config,
    Failure,
    MetadataValue,
    Output,
    ResourceParam,
    asset,
)
from pydantic import Field as PydanticField

from chicago_food_assets.assets.checks import (
    Check,
    NoInfinityCheck,
    QualityChecks,
    Rule,
    Severity,
    ShapeCheck,
    SizeCheck,
)
from chicago_food_assets.assets.partitions import TIMEZONE, weekly
from chicago_food_assets.core.ingestion.raw import (
    CONTRACT_WEEKS_BEFORE,
    FIELDS,
    malformed_counts,
    missing_fields,
    presence,
)
from chicago_food_assets.deployment import socrata_retry_policy
from chicago_food_assets.resources.socrata import SocrataResource, combined
from chicago_food_assets.resources.storage import RawIOManager, split_by_partition

KEY = AssetKey("raw_inspections")


def _malformed(frame: pd.DataFrame) -> tuple[bool, dict]:
    """Values that will not parse are kept raw; this counts them per field so nobody is surprised downstream."""
    counts = malformed_counts(frame)
    total = sum(counts.values())
    return total == 0, {"malformed": total, "share": total / max(len(frame), 1), **counts}


@dataclass(frozen=True)
class FieldContractCheck(Check):
    """The raw feed's field contract (`core.raw.missing_fields`): evaluated before anything is stored."""

    name: str = "field_contract"
    description: str = (
        "no field that this week (as stored before) or the weeks before it carried is missing from all its rows"
    )
    severity: Severity = "error"

    def judge(self, asset: str | AssetKey, missing: pd.DataFrame, allowed: list[str]) -> AssetCheckResult:
        lost = missing[~missing["field"].isin(allowed)]
        return self.result(
            asset,
            lost.empty,
            {
                "missing_fields": sorted(set(lost["field"])) or "none",
                "weeks": sorted(set(lost["week"])) or "none",
                "allowed_missing": allowed or "none",
                "details": MetadataValue.md(lost.to_markdown(index=False) if len(lost) else "_none_"),
            },
        )


CONTRACT = FieldContractCheck()


class RawConfig(Config):
    allow_missing_fields: list[str] = PydanticField(
        default_factory=list,
        description="fields the source has really stopped sending: the field contract lets them go (once)",
    )


DEFAULT_CHECKS = QualityChecks(
    KEY,
    (
        SizeCheck(min_bytes=1),
        NoInfinityCheck(columns=("latitude", "longitude"), severity="warn"),  # raw keeps values as sent
        ShapeCheck(columns=("inspection_id", "inspection_date"), min_rows=0, max_rows=20_000 * 52 * 20),
        Rule(
            "malformed_values",
            "share of present values that do not have their field's expected form",
            "warn",
            _malformed,
        ),
    ),
)


def build_raw_inspections(checks: QualityChecks = DEFAULT_CHECKS):
    """The asset with the given checks (tests attach impossible ones to see a check fail)."""

    @asset(
        key=KEY,
        partitions_def=weekly,
        backfill_policy=BackfillPolicy.single_run(),
        retry_policy=socrata_retry_policy(),
        io_manager_key="raw_io_manager",
        check_specs=[CONTRACT.spec(KEY), *checks.specs],
        metadata={"partition_expr": "inspection_date"},
        group_name="ingestion",
        kinds={"python", "s3"},
        description="The week's inspections exactly as received from Socrata (strings; nothing cleaned or dropped).",
    )
    def raw_inspections(
        context: AssetExecutionContext,
        config: RawConfig,
        socrata: SocrataResource,
        raw_io_manager: ResourceParam[RawIOManager],  # where the week is stored: the contract reads what it held
    ):
        window = context.partition_time_window
        start, end = window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)
        pulls = [socrata.fetch_window(start, end)]
        # Rows dated before the first week or in the future belong to no week: the edge weeks fetch them too,
        # so they are stored and then rejected with their reason instead of never being seen.
        if context.partition_keys[0] == weekly.get_first_partition_key():
            pulls.append(socrata.fetch_where(f"inspection_date < '{start:%Y-%m-%dT%H:%M:%S}'"))
        if context.partition_keys[-1] == weekly.get_last_partition_key():
            tomorrow = (datetime.now(ZoneInfo(TIMEZONE)) + timedelta(days=1)).date()
            pulls.append(socrata.fetch_where(f"inspection_date >= '{tomorrow:%Y-%m-%d}T00:00:00'"))
        pull = combined(pulls)
        del pulls  # their frames, now one (a range run's rows are the step's memory)
        frame = pull.frame
        # the field contract, before anything is stored: a week that lost a field fails here, so neither its
        # stored version nor anything downstream of it is overwritten
        parts = split_by_partition(frame, "inspection_date", weekly, list(context.partition_keys))
        first = date.fromisoformat(context.partition_keys[0])
        before = [str(first - timedelta(weeks=n)) for n in range(CONTRACT_WEEKS_BEFORE, 0, -1)]
        stored = raw_io_manager.stored_presence(KEY, [*before, *context.partition_keys])
        missing = missing_fields(presence(parts), stored)
        del parts  # a second copy of the rows, by week: not kept while the IO manager stores them
        verdict = CONTRACT.judge(KEY, missing, config.allow_missing_fields)
        if not verdict.passed:
            yield verdict
            lost = missing[~missing["field"].isin(config.allow_missing_fields)]
            worst = lost.iloc[0]
            raise Failure(
                description=(
                    f"the Socrata feed stopped sending {', '.join(sorted(set(lost['field'])))}: week {worst['week']} "
                    f"has {worst['rows']} rows and none carries {worst['field']}, which {worst['reference_share']:.0%}"
                    f" of the rows of {worst['reference']} had ({len(lost)} week-fields in all). Nothing was "
                    "stored and nothing downstream was overwritten. If the source really dropped it, re-run with "
                    f"config ops.raw_inspections.config.allow_missing_fields: [{worst['field']}]"
                ),
                allow_retries=False,  # a contract broken by the source: retrying the step cannot mend it
                metadata={"missing": MetadataValue.md(lost.to_markdown(index=False))},
            )
        weeks = len(context.partition_keys)
        dates = frame["inspection_date"].dropna()
        yield Output(
            frame,
            metadata={
                # a range run shows the same metadata on every week's page: a range's count is named as such
                ("range_rows" if weeks > 1 else "dagster/row_count"): len(frame),
                "bytes": pull.bytes,
                "weeks": weeks,
                "rows_per_week": round(len(frame) / weeks, 1),
                "min_inspection_date": str(dates.min())[:10] if len(dates) else "none",
                "max_inspection_date": str(dates.max())[:10] if len(dates) else "none",
                "distinct_licenses": int(frame["license_"].nunique()),
                "source": MetadataValue.url(pull.source),
                "query": f"$where={pull.where}&$order={pull.order}",
                "requests": pull.requests,
                "retries": pull.retries,
                "malformed_values": MetadataValue.json(malformed_counts(frame)),
                "unexpected_fields": [name for name in frame.columns if name not in FIELDS] or "none",
                "preview": MetadataValue.md(_preview(frame)),
            },
        )
        yield verdict
        yield from checks.evaluate(frame, size=pull.bytes)

    return raw_inspections


def _preview(frame: pd.DataFrame, rows: int = 5) -> str:
    columns = ["inspection_id", "inspection_date", "dba_name", "facility_type", "results"]
    return frame[columns].head(rows).fillna("").to_markdown(index=False) if len(frame) else "_no inspections this week_"


raw_inspections = build_raw_inspections()
