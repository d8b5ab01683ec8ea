"""Jobs: what the README's main command and the schedules run."""

from dagster import AssetSelection, define_asset_job

from chicago_food_assets.partitions import weekly

ingest_job = define_asset_job(
    "ingest",
    selection=AssetSelection.assets("raw_inspections"),
    partitions_def=weekly,
    description="Pull weeks of inspections from Socrata into object storage.",
)

weekly_job = define_asset_job(
    "weekly",
    selection=AssetSelection.groups("ingestion", "cleaning", "features"),
    partitions_def=weekly,
    description="For a week or a range of weeks: ingest, clean, parse violations, build features.",
)

training_job = define_asset_job(
    "training",
    selection=AssetSelection.groups("models"),
    description="Train the candidates on every feature week, select one, audit it for fairness.",
)
