"""trained_models and selected_model: three candidates judged on a temporal holdout, the best one kept."""

import numpy as np
import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    Config,
    Failure,
    MetadataValue,
    Output,
    asset,
)
from pydantic import Field

from chicago_food_assets.assets.checks import Check
from chicago_food_assets.core.declarations import catalog, targets
from chicago_food_assets.core.models import card, evaluation, fairness, scoring, selection, training
from chicago_food_assets.core.models.training import Settings, Trained

TRAINED = AssetKey("trained_models")
SELECTED = AssetKey("selected_model")


DEFAULT = Settings()  # the defaults live in core (training.Settings); the run config only exposes them


class TrainingConfig(Config):
    cutoff: str | None = Field(default=None, description="first holdout week (YYYY-MM-DD); default: the last weeks")
    holdout_weeks: int = Field(default=DEFAULT.holdout_weeks, ge=1)
    min_week_rows: int = Field(
        default=DEFAULT.min_week_rows, ge=1, description="a week with fewer feature rows is not a week of data"
    )
    seed: int = DEFAULT.seed
    top_share: float = Field(default=DEFAULT.top_share, gt=0, lt=1, description="the inspectors' list: top share")
    knn_sample: int = Field(default=DEFAULT.knn_sample, ge=100, description="KNN is fit on a sample of this many rows")
    xgboost_trees: int = DEFAULT.xgboost["n_estimators"]
    xgboost_depth: int = DEFAULT.xgboost["max_depth"]
    xgboost_learning_rate: float = DEFAULT.xgboost["learning_rate"]
    knn_neighbors: int = DEFAULT.knn["n_neighbors"]
    logistic_c: float = DEFAULT.logistic["C"]
    backtest_cutoffs: int = Field(
        default=DEFAULT.backtest_cutoffs, ge=1, description="rolling-origin cutoffs, the holdout's included"
    )
    backtest_step_weeks: int = Field(default=DEFAULT.backtest_step_weeks, ge=1, description="weeks between cutoffs")
    candidates: list[str] = Field(
        default=[],
        description="candidate features (the catalog's, not yet model inputs) the models read too: to try one on "
        "your data as the ablation does; names: " + ", ".join(catalog.CANDIDATES),
    )
    target: str = Field(
        default=DEFAULT.target,
        description="what the models predict: "
        + "; ".join(f"{t.name}: {t.description}" for t in targets.TARGETS.values()),
    )

    def settings(self) -> Settings:
        defaults = DEFAULT
        numeric, categorical = catalog.inputs(targets.check(self.target).name, self.candidates)
        return Settings(
            cutoff=pd.Timestamp(self.cutoff).date() if self.cutoff else None,
            holdout_weeks=self.holdout_weeks,
            min_week_rows=self.min_week_rows,
            seed=self.seed,
            top_share=self.top_share,
            knn_sample=self.knn_sample,
            backtest_cutoffs=self.backtest_cutoffs,
            backtest_step_weeks=self.backtest_step_weeks,
            xgboost={
                **defaults.xgboost,
                "n_estimators": self.xgboost_trees,
                "max_depth": self.xgboost_depth,
                "learning_rate": self.xgboost_learning_rate,
            },
            knn={**defaults.knn, "n_neighbors": self.knn_neighbors},
            logistic={**defaults.logistic, "C": self.logistic_c},
            target=targets.check(self.target).name,
            numeric=numeric,
            categorical=categorical,
        )


@asset(
    key=TRAINED,
    ins={"inspection_features": AssetIn()},
    io_manager_key="model_io_manager",
    group_name="models",
    kinds={"xgboost", "scikitlearn", "s3"},
    description="XGBoost, KNN and logistic pipelines trained before a cutoff and evaluated on the weeks after it.",
)
def trained_models(
    context: AssetExecutionContext, config: TrainingConfig, inspection_features: pd.DataFrame
) -> Output[Trained]:
    trained = training.fit(inspection_features, config.settings())
    table = pd.concat(
        [pd.DataFrame(trained.metrics).T, pd.DataFrame(trained.baselines).T.rename(index=lambda n: f"baseline_{n}")]
    )
    return Output(
        trained,
        metadata={
            "window": trained.window.describe(),
            "target": trained.settings.target,
            "train_rows": trained.train_rows,
            "holdout_rows": len(trained.holdout),
            "fit_seconds": MetadataValue.json({n: round(c.fit_seconds, 2) for n, c in trained.candidates.items()}),
            "knn_fit_rows": trained.candidates["knn"].fit_rows,
            "metrics": MetadataValue.md(table.round(4).to_markdown()),
            **{f"roc_auc_{name}": float(m["roc_auc"]) for name, m in trained.metrics.items()},
            "backtest": MetadataValue.md(evaluation.backtest_table(trained.backtest)),
            "backtest_cutoffs": MetadataValue.json(sorted(set(trained.backtest["cutoff"]) - {evaluation.POOLED})),
            **{f"pooled_roc_auc_{name}": float(row.roc_auc) for name, row in trained.pooled.iterrows()},
            "chicago_protocol": MetadataValue.md(_chicago_pooled(trained.chicago)),
        },
    )


def _chicago_pooled(frame: pd.DataFrame) -> str:
    pooled = frame[frame["cutoff"] == evaluation.POOLED].drop(columns=["cutoff"]) if len(frame) else frame
    return pooled.to_markdown(index=False, floatfmt=".3f") if len(pooled) else "_no window_"


class SelectionConfig(Config):
    metric: str = Field(default="roc_auc", description="roc_auc, average_precision, accuracy, brier, log_loss, ...")
    refit: bool = Field(default=False, description="refit the winner on training + holdout weeks after selection")
    auc_floor: float = Field(default=0.6, description="warn when the selected model's holdout ROC AUC is below")
    promotion_floor: float = Field(
        default=0.55,
        description="promotion rule: below this holdout ROC AUC the new model does not replace the current one",
    )
    flagged_share: float = Field(
        default=fairness.FLAGGED_SHARE,
        gt=0,
        lt=1,
        description="the inspectors' list (top share of scores) on which the ranking policy is decided and audited",
    )
    min_group_size: int = Field(
        default=fairness.MIN_GROUP, ge=1, description="smaller facility types are merged into one group"
    )


AUC_FLOOR = Check("auc_floor", "holdout ROC AUC of the selected model is at least a floor", "warn")
POSSIBLE_LEAKAGE = Check(
    "possible_leakage", f"no candidate scores above {selection.LEAKAGE_AUC} ROC AUC on the holdout", "warn"
)
PREDICTIONS_IN_RANGE = Check("predictions_in_range", "holdout predictions are finite and in [0, 1]", "error")
SELECTION_CHECKS = [check.spec(SELECTED) for check in (AUC_FLOOR, POSSIBLE_LEAKAGE, PREDICTIONS_IN_RANGE)]


@asset(
    key=SELECTED,
    ins={"trained_models": AssetIn(), "inspection_features": AssetIn()},
    io_manager_key="model_io_manager",
    check_specs=SELECTION_CHECKS,
    group_name="models",
    kinds={"python", "s3"},
    description="The candidate with the best holdout metric, with its version, window, features and model card.",
)
def selected_model(
    context: AssetExecutionContext, config: SelectionConfig, trained_models: Trained, inspection_features: pd.DataFrame
):
    metrics = trained_models.metrics
    if config.metric not in next(iter(metrics.values())):
        raise ValueError(f"unknown metric {config.metric!r}; choose one of {sorted(next(iter(metrics.values())))}")
    chosen = selection.choose(
        trained_models, inspection_features, config.metric, config.refit, config.flagged_share, config.min_group_size
    )
    leakage = selection.leakage_warnings(metrics)
    auc = chosen.metrics[chosen.name]["roc_auc"]
    # Promotion rule: a retrained model replaces the current one only when its holdout ROC AUC is at least the
    # promotion floor and not above the leakage line. Otherwise the step fails before anything is written, so the
    # stored selected_model, and everything scored from it, stays the previous model.
    if not config.promotion_floor <= auc <= selection.LEAKAGE_AUC:
        raise Failure(
            description=f"{chosen.name} not promoted: holdout ROC AUC {auc:.3f} is outside "
            f"[{config.promotion_floor}, {selection.LEAKAGE_AUC}] (below the floor, or possible leakage); "
            "the current model stays (the setting promotion_floor of selected_model sets the floor: on a small file "
            "that cannot reach it, ops: selected_model: config: promotion_floor: 0 in a --train-config file)",
            metadata={
                "roc_auc": auc,
                "promotion_floor": config.promotion_floor,
                "leakage": "; ".join(leakage) or "none",
            },
        )
    yield Output(
        chosen,
        metadata={
            "model": chosen.name,
            "version": chosen.version,
            "selected_by": config.metric,
            "selected_because": chosen.reason,
            "window": chosen.window.describe(),
            "holdout_roc_auc": auc,
            "holdout_days_earlier": chosen.metrics[chosen.name]["days_earlier"],
            "features": MetadataValue.json(list(chosen.features)),
            "metrics": MetadataValue.json(chosen.metrics),
            "model_card": MetadataValue.md(card.model_card(chosen, leakage)),
        },
    )
    yield AUC_FLOOR.result(SELECTED, auc >= config.auc_floor, {"roc_auc": auc, "floor": config.auc_floor})
    yield POSSIBLE_LEAKAGE.result(
        SELECTED, not leakage, {"warnings": "; ".join(leakage) if leakage else "none", "limit": selection.LEAKAGE_AUC}
    )
    scores = chosen.holdout["score"].to_numpy(dtype=float)
    bad = scoring.outside_unit_range(scores)
    yield PREDICTIONS_IN_RANGE.result(
        SELECTED, bad == 0, {"outside": bad, "min": float(np.nanmin(scores)), "max": float(np.nanmax(scores))}
    )
