"""Jobs and the pipeline's stages: what the demo, the schedules, the sensors, the tests and the benchmarks run.

The stages are listed here once; `./run demo` runs them in order, the tests and benchmarks import them.
"""

from dataclasses import dataclass

from dagster import AssetSelection, define_asset_job

from chicago_food_assets.deployment import fanout_executor
from chicago_food_assets.partitions import weekly

WEEKLY_FEATURES = AssetSelection.groups("ingestion", "cleaning", "features")
WEEKLY_SCORES = AssetSelection.assets("inspection_scores", "score_monitoring")
MODELS = AssetSelection.groups("models") | AssetSelection.assets("current_model")
LOOKUPS = AssetSelection.assets("establishment_risk")
WEEKLY = WEEKLY_FEATURES | WEEKLY_SCORES  # what a changed week needs refreshed, raw to monitoring


@dataclass(frozen=True)
class Stage:
    """A step of the pipeline as a user runs it: weekly stages run over a range of weeks in one run."""

    name: str
    selection: AssetSelection
    weekly: bool
    trains: bool = False  # takes the training run config (./run demo --train-config)


STAGES = (
    Stage("weekly features", WEEKLY_FEATURES, weekly=True),
    Stage("training, selection, fairness audit", MODELS, weekly=False, trains=True),
    Stage("weekly scores and monitoring", WEEKLY_SCORES, weekly=True),
    Stage("latest risk per establishment", LOOKUPS, weekly=False),
)

ingest_job = define_asset_job(
    "ingest",
    selection=AssetSelection.assets("raw_inspections"),
    partitions_def=weekly,
    description="Pull weeks of inspections from Socrata into object storage.",
)

weekly_job = define_asset_job(
    "weekly",
    selection=WEEKLY,
    partitions_def=weekly,
    description="For a week or a range of weeks: ingest, clean, parse violations, build features, score, monitor.",
    executor_def=fanout_executor(),
)

training_job = define_asset_job(
    "training",
    selection=MODELS,
    description="Train the candidates on every feature week, select one, audit it for fairness, publish it.",
    executor_def=fanout_executor(),
)

lookup_job = define_asset_job(
    "lookups",
    selection=LOOKUPS,
    description="Rebuild the latest score per establishment for the service.",
)
