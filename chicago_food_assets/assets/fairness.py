"""fairness_audit and area_audit: the selected model's flags by facility type (against Restaurant) and by area (its
share of the flags against its share of the positives, against the largest area), with aequitas."""

import pandas as pd
from dagster import (
    AssetIn,
    Config,
    MetadataValue,
    Output,
    asset,
)
from pydantic import Field

from chicago_food_assets.assets.checks import Check
from chicago_food_assets.assets.types import key_of, table_asset
from chicago_food_assets.core.declarations.contracts import AREA_AUDIT, FAIRNESS_AUDIT
from chicago_food_assets.core.models import fairness
from chicago_food_assets.core.models.training import Selected

KEY = key_of(FAIRNESS_AUDIT)
AREA_KEY = key_of(AREA_AUDIT)
FAIR_BAND = Check("fair_band", "FPR and FDR disparities of sizeable groups lie within [0.8, 1.25]", "warn")
AREA_BAND = Check(
    "areas_in_band",
    "every named area is flagged in proportion to its findings (flags per finding) and its FPR and FDR disparities "
    "lie within [0.8, 1.25]",
    "warn",
)


class AuditConfig(Config):
    reference: str = Field(default=fairness.REFERENCE, description="the facility type disparities are measured against")


@asset(
    key=KEY,
    ins={"selected_model": AssetIn()},
    **table_asset(FAIRNESS_AUDIT),
    check_specs=[FAIR_BAND.spec(KEY)],
    group_name="models",
    description=fairness.__doc__,
)
def fairness_audit(config: AuditConfig, selected_model: Selected):
    holdout, threshold, share, min_size = fairness.as_deployed(selected_model.holdout, selected_model.decision)
    decision = selected_model.decision
    table = FAIRNESS_AUDIT.conform(
        fairness.audit(holdout, threshold, min_size, config.reference).assign(model_version=selected_model.version)
    )
    outside = fairness.outside_band(table, min_size)
    yield Output(
        table,
        metadata={
            "model_version": selected_model.version,
            "why_fpr_and_fdr": "The intervention is punitive: a flag sends an inspector who can fine or close. FPR "
            "(share of passing places flagged) and FDR (share of flags that pass) measure unwarranted inspections.",
            "reference_group": config.reference,
            "operating_threshold": threshold
            if decision is None or decision.deployed == fairness.SINGLE
            else "per group",
            "flagged_share": share,
            "holdout_rows": len(holdout),
            "groups": MetadataValue.md(table.round(3).to_markdown(index=False)),
            **(
                {
                    "deployed_ranking": selected_model.decision.deployed,
                    "why": selected_model.decision.why,
                    "days_earlier_by_policy": MetadataValue.json(selected_model.decision.days_earlier),
                    "policies": MetadataValue.md(selected_model.decision.table.round(3).to_markdown(index=False)),
                }
                if selected_model.decision
                else {}
            ),
        },
    )
    yield FAIR_BAND.result(
        KEY,
        outside.empty,
        {
            "band": str(fairness.FAIR_BAND),
            "outside": MetadataValue.json(
                {
                    row.facility_type: {
                        "fpr_disparity": round(row.fpr_disparity, 3),
                        "fdr_disparity": round(row.fdr_disparity, 3),
                        "group_size": int(row.group_size),
                    }
                    for row in outside.itertuples()
                }
            )
            if not outside.empty
            else "none",
        },
    )


@asset(
    key=AREA_KEY,
    ins={"selected_model": AssetIn()},
    **table_asset(AREA_AUDIT),
    check_specs=[AREA_BAND.spec(AREA_KEY)],
    group_name="models",
    description=fairness.area_audit.__doc__,
)
def area_audit(selected_model: Selected):
    holdout, threshold, share, min_size = fairness.as_deployed(selected_model.holdout, selected_model.decision)
    if "zip" not in holdout.columns:  # a model pickled before its holdout kept the ZIP code: nothing to audit by
        holdout = holdout.assign(zip=None)
    table = AREA_AUDIT.conform(
        fairness.area_audit(holdout, threshold, min_size).assign(model_version=selected_model.version)
    )
    outside = fairness.areas_outside_band(table)
    yield Output(
        table,
        metadata={
            "model_version": selected_model.version,
            "why": "A model of public data finds what inspectors found; proxies of area can carry an inspector's "
            "strictness. Each area's share of the flags against its share of the positives says who is flagged "
            "beyond what was found there.",
            "reference_area": str(table.loc[table["reference"], "area"].iloc[0]) if table["reference"].any() else "",
            "flagged_share": share,
            "areas": len(table),
            "areas_outside_band": len(outside),
            "preview": MetadataValue.md(table.drop(columns="model_version").head(20).round(3).to_markdown(index=False)),
        },
    )
    yield AREA_BAND.result(
        AREA_KEY,
        outside.empty,
        {
            "band": str(fairness.FAIR_BAND),
            "outside": MetadataValue.json(
                {
                    row.area: {
                        "flags_per_finding": None
                        if pd.isna(row.flags_per_finding)
                        else round(row.flags_per_finding, 3),
                        "fpr_disparity": None if pd.isna(row.fpr_disparity) else round(row.fpr_disparity, 3),
                        "fdr_disparity": None if pd.isna(row.fdr_disparity) else round(row.fdr_disparity, 3),
                        "group_size": int(row.group_size),
                    }
                    for row in outside.head(30).itertuples()
                }
            )
            if not outside.empty
            else "none",
        },
    )
