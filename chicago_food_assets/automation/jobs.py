"""Jobs and the pipeline's stages: what the demo, the schedules, the sensors, the tests and the benchmarks run.

The stages are listed here once; `./run demo` runs them in order, the tests and benchmarks import them.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from dagster import AssetSelection, define_asset_job

from chicago_food_assets.assets.partitions import weekly
from chicago_food_assets.automation.freshness import source_is_fresh
from chicago_food_assets.deployment import fanout_executor

WEEKLY_FEATURES = AssetSelection.groups("ingestion", "cleaning", "features")
WEEKLY_SCORES = AssetSelection.assets("inspection_scores", "score_monitoring")
MODELS = AssetSelection.groups("models") | AssetSelection.assets("current_model")
LOOKUPS = AssetSelection.assets("establishment_risk")
LISTS = AssetSelection.assets("visit_list", "inspection_plan")
OUTCOMES = AssetSelection.assets("visit_list_outcomes")
REGISTER = AssetSelection.assets("establishments", "list_evaluation", "plan_evaluation")
WEEKLY = WEEKLY_FEATURES | WEEKLY_SCORES  # what a changed week needs refreshed, raw to monitoring


@dataclass(frozen=True)
class Stage:
    """A step of the pipeline as a user runs it: weekly stages run over a range of weeks in one run.

    weeks: `data` (every week of the data), `lists` (the lists of the model's holdout weeks and of the week after the
    data), `judged` (the holdout weeks: lists whose inspections have arrived), None (unpartitioned).
    """

    name: str
    selection: AssetSelection
    weeks: str | None
    trains: bool = False  # takes the training run config (./run demo --train-config)

    def ranges(
        self, first: str, last: str, holdout: tuple[str, str] | None = None, newest: str | None = None
    ) -> list[tuple[str, str] | None]:
        """The stage's runs, each a range of weeks (None: unpartitioned), for data from week `first` to week `last`,
        the model's holdout weeks [start, end) and the newest week of stored inspections (a list is for at most the
        week after it)."""
        if self.weeks is None:
            return [None]
        if self.weeks == "data":
            return [(first, last)]
        newest_week = date.fromisoformat(min(newest or last, last))
        runs: list[tuple[date, date]] = []
        if holdout is not None:
            start, end = date.fromisoformat(holdout[0]), date.fromisoformat(holdout[1]) - timedelta(days=7)
            if min(end, newest_week) >= start:
                runs.append((start, min(end, newest_week)))
        if self.weeks == "lists":
            after = newest_week + timedelta(days=7)
            if runs and runs[-1][1] + timedelta(days=7) >= after:
                runs[-1] = (runs[-1][0], after)
            else:
                runs.append((after, after))
        return [(str(a), str(b)) for a, b in runs]


STAGES = (
    Stage("weekly features", WEEKLY_FEATURES, weeks="data"),
    Stage("training, selection, fairness audit", MODELS, weeks=None, trains=True),
    Stage("weekly scores and monitoring", WEEKLY_SCORES, weeks="data"),
    Stage("visit lists and plans", LISTS, weeks="lists"),
    Stage("the lists' outcomes", OUTCOMES, weeks="judged"),
    Stage("lookups, register, evaluation of lists and plans", LOOKUPS | REGISTER, weeks=None),
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

source_check_job = define_asset_job(
    "source_check",
    selection=AssetSelection.checks(source_is_fresh),
    description="Check that Socrata is still publishing (its newest :updated_at).",
)
