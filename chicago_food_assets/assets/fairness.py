"""fairness_audit: FPR and FDR of the selected model by facility type (aequitas), against Restaurant."""

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
from chicago_food_assets.core.declarations.contracts import FAIRNESS_AUDIT
from chicago_food_assets.core.models import fairness
from chicago_food_assets.core.models.training import Selected

KEY = key_of(FAIRNESS_AUDIT)
FAIR_BAND = Check("fair_band", "FPR and FDR disparities of sizeable groups lie within [0.8, 1.25]", "warn")


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
    holdout = selected_model.holdout
    score = holdout["score"].to_numpy(dtype=float)
    # the list the selection decided the policy on (set in SelectionConfig)
    decision = selected_model.decision
    share = decision.flagged_share if decision else fairness.FLAGGED_SHARE
    min_size = decision.min_size if decision else fairness.MIN_GROUP
    threshold = fairness.operating_threshold(score, share)
    if decision is not None and decision.deployed == fairness.PER_GROUP:  # audit what inspectors get: each type's
        groups = fairness.policy_groups(holdout["facility_type"], list(decision.groups))  # own top share, flagged
        holdout = holdout.assign(score=fairness.group_flags(score, groups, share).astype(float))
        threshold = 0.5
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
