"""The one Definitions of the code location: assets, jobs and the resources of this deployment."""

from dagster import AssetKey, AssetSelection, Definitions

from chicago_food_assets import deployment
from chicago_food_assets.assets.clean import cleaning_assets
from chicago_food_assets.assets.fairness import area_audit, fairness_audit
from chicago_food_assets.assets.features import inspection_features
from chicago_food_assets.assets.lists import establishments, list_evaluation, visit_list, visit_list_outcomes
from chicago_food_assets.assets.models import selected_model, trained_models
from chicago_food_assets.assets.plans import inspection_plan, plan_evaluation
from chicago_food_assets.assets.raw import raw_inspections
from chicago_food_assets.assets.scores import current_model, establishment_risk, inspection_scores, score_monitoring
from chicago_food_assets.automation.conditions import follow_ups
from chicago_food_assets.automation.freshness import freshness_sensor, source_is_fresh, weekly_freshness
from chicago_food_assets.automation.jobs import ingest_job, source_check_job, training_job, weekly_job
from chicago_food_assets.automation.schedules import monthly_retraining, source_check_schedule, weekly_schedule
from chicago_food_assets.automation.sensors import socrata_changes
from chicago_food_assets.operations.alerts import alerts

defs = Definitions(
    assets=[
        raw_inspections,
        cleaning_assets,
        inspection_features,
        trained_models,
        selected_model,
        fairness_audit,
        area_audit,
        current_model,
        inspection_scores,
        score_monitoring,
        establishment_risk,
        establishments,
        visit_list,
        inspection_plan,
        visit_list_outcomes,
        list_evaluation,
        plan_evaluation,
    ],
    asset_checks=[*weekly_freshness, source_is_fresh],
    jobs=[ingest_job, weekly_job, training_job, source_check_job],
    schedules=[weekly_schedule, monthly_retraining, source_check_schedule],
    sensors=[socrata_changes, follow_ups, freshness_sensor, alerts],
    resources=deployment.resources(),
    executor=deployment.executor(),
)


def keys(selection: AssetSelection) -> list[AssetKey]:
    """The asset keys of a selection (a stage of automation/jobs.py), for the CLI, the tests and the benchmarks."""
    return sorted(selection.resolve(defs.resolve_asset_graph()), key=lambda key: key.to_user_string())
