"""Jobs: what the README's main command, the schedules and the sensors run."""

from dagster import AssetSelection, define_asset_job

from chicago_food_assets.partitions import weekly

WEEKLY_FEATURES = AssetSelection.groups("ingestion", "cleaning", "features")
WEEKLY_SCORES = AssetSelection.assets("inspection_scores", "score_monitoring")
MODELS = AssetSelection.groups("models") | AssetSelection.assets("current_model")

ingest_job = define_asset_job(
    "ingest",
    selection=AssetSelection.assets("raw_inspections"),
    partitions_def=weekly,
    description="Pull weeks of inspections from Socrata into object storage.",
)

weekly_job = define_asset_job(
    "weekly",
    selection=WEEKLY_FEATURES | WEEKLY_SCORES,
    partitions_def=weekly,
    description="For a week or a range of weeks: ingest, clean, parse violations, build features, score, monitor.",
)

training_job = define_asset_job(
    "training",
    selection=MODELS,
    description="Train the candidates on every feature week, select one, audit it for fairness, publish it.",
)

lookup_job = define_asset_job(
    "lookups",
    selection=AssetSelection.assets("establishment_risk"),
    description="Rebuild the latest score per establishment for the service.",
)
