"""Choosing the model to deploy: the backtest's rule (the simpler candidate inside the best one's interval),
out-of-time calibration of its scores, and the fairness decision of how its list is ranked."""

import pandas as pd

from chicago_food_assets.core.declarations.targets import OUTCOME
from chicago_food_assets.core.models import evaluation, fairness, scoring
from chicago_food_assets.core.models.training import (
    HOLDOUT_COLUMNS,
    Selected,
    Trained,
    candidates,
    fingerprint,
    known,
    model_frame,
    outcome,
    version,
)

LEAKAGE_AUC = 0.9  # without leakage, inspection outcomes are predicted at AUC ~0.63-0.70


def select(metrics: dict[str, dict], metric: str = "roc_auc") -> str:
    """The candidate with the best holdout value of `metric` (lower is better for losses)."""
    lower_is_better = metric in ("log_loss", "brier")
    ranked = sorted(metrics, key=lambda name: metrics[name][metric], reverse=not lower_is_better)
    return ranked[0]


SIMPLER_FIRST = ("logistic", "xgboost", "knn")  # a linear model, then trees, then neighbours (opaque, costly)


def choice(trained: "Trained", metric: str = "roc_auc") -> tuple[str, str]:
    """The candidate to deploy, and why. By ROC AUC: the best pooled backtest value, unless a simpler candidate's
    pooled value lies inside the best one's bootstrap interval (then the difference is noise, and simpler wins).
    By another metric the pooled backtest has: its best; else the holdout's best."""
    pooled = trained.pooled.reindex(list(trained.candidates)).dropna(how="all")
    if metric == "roc_auc" and not pooled.empty:
        best = str(pooled["roc_auc"].idxmax())
        low = float(pooled.at[best, "roc_auc_low"])
        for name in SIMPLER_FIRST[: SIMPLER_FIRST.index(best)] if best in SIMPLER_FIRST else ():
            if name in pooled.index and pooled.at[name, "roc_auc"] >= low:
                return name, (
                    f"pooled backtest ROC AUC {pooled.at[name, 'roc_auc']:.3f}, inside the interval of the best "
                    f"({best}: {pooled.at[best, 'roc_auc']:.3f}, 95% CI from {low:.3f}): the simpler model"
                )
        return best, f"best pooled backtest ROC AUC ({pooled.at[best, 'roc_auc']:.3f}) over {len(pooled)} candidates"
    if metric in pooled.columns and not pooled.empty:
        name = select(pooled.to_dict("index"), metric)
        return name, f"best pooled backtest {metric}"
    return select(trained.metrics, metric), f"best holdout {metric}"


def leakage_warnings(metrics: dict[str, dict], limit: float = LEAKAGE_AUC) -> list[str]:
    return [
        f"{name}: holdout ROC AUC {m['roc_auc']:.3f} > {limit}: possible leakage (a feature may carry the outcome)"
        for name, m in metrics.items()
        if m["roc_auc"] > limit
    ]


def calibrate(name: str, trained: Trained, table: pd.DataFrame) -> evaluation.Calibration:
    """Platt scaling fitted out of time, before the holdout, which never takes part.

    On the backtest's earlier windows: each scored by the candidate fitted strictly before it, in the holdout's
    season of earlier years, so one season's fail rate does not bias the map (12 weeks just before the holdout did:
    spring fails less than summer). Without earlier windows: on the last `calibration_weeks` training weeks, scored
    by the candidate fitted without them."""
    settings, earlier = trained.settings, trained.earlier_windows
    if len(earlier) and earlier[OUTCOME].nunique() == 2:
        cutoffs = ", ".join(f"{cutoff:%Y-%m-%d}" for cutoff in sorted(earlier["cutoff"].unique()))
        return evaluation.platt(
            earlier[f"score_{name}"].to_numpy(dtype=float),
            earlier[OUTCOME].to_numpy(dtype=int),
            f"the backtest's earlier windows ({settings.holdout_weeks} weeks from {cutoffs}), each scored by a fit "
            "before it",
        )
    learnt = known(trained.window.learnt(table), settings)
    last = learnt["week"].max() - pd.Timedelta(weeks=settings.calibration_weeks - 1)
    early, late = learnt[learnt["week"] < last], learnt[learnt["week"] >= last]
    if early[settings.target].nunique() < 2 or late[settings.target].nunique() < 2:
        return evaluation.Calibration(weeks="none: too few weeks to calibrate on")
    pipeline = candidates(settings)[name]
    pipeline.fit(model_frame(early, settings), outcome(early, settings))
    raw = pipeline.predict_proba(model_frame(late, settings))[:, 1]
    weeks = f"the weeks {late['week'].min():%Y-%m-%d} to {late['week'].max():%Y-%m-%d}, scored by a fit without them"
    return evaluation.platt(raw, outcome(late, settings), weeks)


def choose(
    trained: Trained,
    table: pd.DataFrame,
    metric: str = "roc_auc",
    refit: bool = False,
    flagged_share: float = fairness.FLAGGED_SHARE,
    min_group_size: int = fairness.MIN_GROUP,
) -> Selected:
    """Pick a candidate by `metric` on the backtest (`choice`); with `refit`, fit it again on training + holdout
    weeks. The ranking policy is decided on the holdout's top `flagged_share` (`fairness.decide`)."""
    name, reason = choice(trained, metric)
    pipeline = trained.candidates[name].pipeline
    window = trained.window.refitted() if refit else trained.window
    rows, data = trained.train_rows, trained.data
    learnt = window.learnt(table)
    if refit:
        pipeline = candidates(trained.settings)[name]
        fitted = known(learnt, trained.settings)
        pipeline.fit(model_frame(fitted, trained.settings), outcome(fitted, trained.settings))
        rows, data = len(fitted), fingerprint(fitted, trained.settings.target)
    calibration = calibrate(name, trained, table)  # before the holdout, even refit
    holdout = trained.holdout[HOLDOUT_COLUMNS].assign(score=calibration.apply(trained.holdout[f"score_{name}"]))
    distribution = scoring.distribution(
        calibration.apply(pipeline.predict_proba(model_frame(learnt, trained.settings))[:, 1]), learnt["facility_type"]
    )
    return Selected(
        name=name,
        version=version(name, window, trained.settings, data),
        pipeline=pipeline,
        metric=metric,
        metrics={**trained.metrics, **{f"baseline_{k}": v for k, v in trained.baselines.items()}},
        settings=trained.settings,
        window=window,
        train_rows=rows,
        holdout=holdout,
        training_scores=distribution,
        backtest=trained.backtest,
        reason=reason,
        calibration=calibration,
        reliability=evaluation.reliability(holdout[OUTCOME], holdout["score"]),
        holdout_raw=trained.holdout[f"score_{name}"].to_numpy(dtype=float),
        decision=fairness.decide(holdout, flagged_share, min_group_size),
        chicago=trained.chicago,
    )
