"""inspection_scores, score_monitoring (weekly), establishment_risk and current_model: what the service reads."""

from dataclasses import asdict

import numpy as np
import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    MetadataValue,
    Output,
    asset,
)

from chicago_food_assets.assets.checks import Check, NoInfinityCheck, QualityChecks, Rule, ShapeCheck
from chicago_food_assets.assets.types import key_of, table_asset, weekly_table
from chicago_food_assets.automation import conditions
from chicago_food_assets.core.declarations.columns import json_text
from chicago_food_assets.core.declarations.contracts import (
    CURRENT_MODEL,
    ESTABLISHMENT_RISK,
    INSPECTION_SCORES,
    SCORE_MONITORING,
)
from chicago_food_assets.core.models import fairness, reasons, scoring
from chicago_food_assets.core.models.training import Selected
from chicago_food_assets.resources.history import History
from chicago_food_assets.resources.postgres import PostgresResource

SCORES = key_of(INSPECTION_SCORES)
MONITORING = key_of(SCORE_MONITORING)


def _scores_in_range(frame: pd.DataFrame) -> tuple[bool, dict]:
    outside = scoring.outside_unit_range(frame["score"].to_numpy(dtype=float))
    return outside == 0, {"outside": outside}


SCORE_RANGE = Rule("scores_in_range", "every score is finite and in [0, 1]", "error", _scores_in_range)
SCORE_CHECKS = QualityChecks(SCORES, (NoInfinityCheck(), ShapeCheck(columns=scoring.COLUMNS), SCORE_RANGE))
ONE_ROW = Check("one_row_per_establishment", "each establishment has exactly one latest score", "error")
ROWS_MATCH = Check("rows_match_features", "every week has as many scores as feature rows", "error")
MONITORING_CHECKS = QualityChecks(MONITORING, (NoInfinityCheck(), ShapeCheck(columns=scoring.MONITORING_COLUMNS)))
DRIFT = Check(
    "drift",
    f"PSI against training stays under {scoring.PSI_ALERT} for groups of {scoring.MIN_DRIFT_ROWS}+ scores, in the "
    f"newest {scoring.DRIFT_WEEKS} weeks outside training",
    "warn",
)


@asset(
    key=SCORES,
    ins={"inspection_features": AssetIn(), "selected_model": AssetIn()},
    **weekly_table(INSPECTION_SCORES),
    check_specs=[*SCORE_CHECKS.specs, ROWS_MATCH.spec(SCORES)],
    group_name="scores",
    description="The selected model's probability that each inspection fails, ranked within its week.",
)
def inspection_scores(context: AssetExecutionContext, inspection_features: pd.DataFrame, selected_model: Selected):
    score = selected_model.score(inspection_features) if len(inspection_features) else np.zeros(0)
    explained = reasons.explain(selected_model, inspection_features)
    decision = selected_model.decision
    table = INSPECTION_SCORES.conform(
        scoring.score_table(
            inspection_features,
            score,
            selected_model.version,
            selected_model.window,
            explained,
            decision,
        )
    )
    periods = table["period"].value_counts().to_dict()
    yield Output(
        table,
        metadata={
            "model_version": selected_model.version,
            "periods": MetadataValue.json(periods or {"none": 0}),
            "in_sample_rows": int(periods.get("training", 0)),
            "mean_score": float(table["score"].mean()) if len(table) else 0.0,
            "ranking": decision.deployed if decision is not None else fairness.SINGLE,
            "reasons": "top features by contribution (core/models/reasons.py)"
            if explained is not None
            else f"none: {selected_model.name} has no per-feature contributions",
        },
    )
    yield from SCORE_CHECKS.evaluate(table)
    features_per_week = inspection_features.groupby("week").size()
    scores_per_week = table.groupby("week").size().reindex(features_per_week.index, fill_value=0)
    mismatched = features_per_week[features_per_week != scores_per_week]
    yield ROWS_MATCH.result(
        SCORES,
        mismatched.empty,
        {
            "weeks_checked": len(features_per_week),
            "mismatched_weeks": [str(w)[:10] for w in mismatched.index] or "none",
        },
    )


@asset(
    key=MONITORING,
    ins={"inspection_scores": AssetIn(), "selected_model": AssetIn()},
    **weekly_table(SCORE_MONITORING),
    check_specs=[*MONITORING_CHECKS.specs, DRIFT.spec(MONITORING)],
    group_name="scores",
    description="Per week and facility type: score distribution against training (histogram on training deciles), "
    "PSI drift, fail rate.",
)
def score_monitoring(context: AssetExecutionContext, inspection_scores: pd.DataFrame, selected_model: Selected):
    current = inspection_scores[inspection_scores["model_version"] == selected_model.version]
    table = SCORE_MONITORING.conform(
        scoring.monitoring(current, selected_model.training_scores, selected_model.version)
    )
    sizeable = scoring.sizeable(table)
    judged = scoring.recent(table, selected_model.window.cutoff)
    drifting = scoring.drifting(judged)
    yield Output(
        table,
        metadata={
            "weeks": int(table["week"].nunique()),
            "max_psi": float(sizeable["psi"].max()) if len(sizeable) else 0.0,
            "stale_scores_skipped": len(inspection_scores) - len(current),
        },
    )
    yield from MONITORING_CHECKS.evaluate(table)
    yield DRIFT.result(
        MONITORING,
        drifting.empty,
        {
            "alert_line": scoring.PSI_ALERT,
            "weeks_judged": ", ".join(f"{w:%Y-%m-%d}" for w in sorted(judged["week"].unique())) or "none",
            "drifting": [
                f"{w:%Y-%m-%d} {t}: {p:.2f}"
                for w, t, p in drifting[["week", "facility_type", "psi"]].head(20).itertuples(index=False)
            ]
            or "none",
        },
    )


@asset(
    deps=[SCORES],
    **table_asset(ESTABLISHMENT_RISK),
    check_specs=[ONE_ROW.spec("establishment_risk")],
    group_name="scores",
    automation_condition=conditions.follows(),
    description="The latest score of each establishment (by license; name and address when the license is 0).",
)
def establishment_risk(postgres: PostgresResource):
    # each place's newest score and its number of scores, read as such: not every week's scores (300,000 rows of
    # a city's history, read after every new week)
    stored = History(postgres)
    latest = stored.latest(INSPECTION_SCORES, "establishment", ("inspection_date", "inspection_id"))
    table = ESTABLISHMENT_RISK.conform(
        scoring.latest_by_establishment(latest, stored.counts(INSPECTION_SCORES, "establishment"))
    )
    yield Output(table, metadata={"licensed": int((table["license"] > 0).sum())})  # row count: the IO manager
    repeated = int(table["establishment"].duplicated().sum())
    yield ONE_ROW.result("establishment_risk", repeated == 0, {"repeated": repeated})


def ranking(selected_model: Selected) -> str | None:
    decision = selected_model.decision
    if decision is None:
        return None
    return json_text(
        {
            "deployed": decision.deployed,
            "why": decision.why,
            "days_earlier": decision.days_earlier,
            "groups": decision.table.to_dict("records"),
        }
    )


@asset(
    ins={"selected_model": AssetIn()},
    **table_asset(CURRENT_MODEL),
    group_name="scores",
    description="The selected model's identity and holdout metrics, for the service (which reads only PostgreSQL).",
)
def current_model(selected_model: Selected) -> pd.DataFrame:
    return CURRENT_MODEL.conform(
        pd.DataFrame(
            {
                "model_version": [selected_model.version],
                "name": [selected_model.name],
                "selected_by": [selected_model.metric],
                "refit": [selected_model.window.refit],
                "training_from": [pd.Timestamp(selected_model.window.first)],
                "holdout_from": [pd.Timestamp(selected_model.window.cutoff)],
                "holdout_to": [pd.Timestamp(selected_model.window.end)],
                "train_rows": [selected_model.train_rows],
                "holdout_rows": [len(selected_model.holdout)],
                "metrics": [json_text(selected_model.metrics)],
                "features": [json_text(list(selected_model.features))],
                "training_scores": [json_text(selected_model.training_scores)],
                "libraries": [json_text(selected_model.libraries)],
                "published_at": [pd.Timestamp.now(tz="UTC")],
                "selected_because": [selected_model.reason or None],
                "target": [selected_model.settings.target],
                "backtest": [json_text(selected_model.backtest.to_dict("records"))],
                "chicago": [json_text(selected_model.chicago.to_dict("records"))],
                "ranking": [ranking(selected_model)],
                "calibration": [
                    json_text(
                        {
                            **asdict(selected_model.calibration),
                            "reliability": selected_model.reliability.to_dict("records"),
                        }
                    )
                ],
            }
        )
    )
