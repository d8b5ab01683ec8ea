"""The model card: what the selected model is, what it learnt from, how good it is and against what, how its
probabilities are calibrated, which ranking policy is deployed and why, how its flags fall by area, and the
rolling-origin backtest."""

import pandas as pd

from chicago_food_assets.core.declarations.targets import OUTCOME
from chicago_food_assets.core.models import evaluation, fairness
from chicago_food_assets.core.models.selection import LEAKAGE_AUC
from chicago_food_assets.core.models.training import Selected


def _calibration_section(selected: Selected) -> str:
    if selected.reliability.empty:
        return ""
    c = selected.calibration
    holdout = selected.holdout
    from sklearn.metrics import brier_score_loss

    raw = selected.holdout_raw
    before = f", {brier_score_loss(holdout[OUTCOME], raw):.4f} before" if raw is not None else ""
    return (
        f"\n## Calibration (Platt scaling: slope {c.slope:.3f}, intercept {c.intercept:.3f}; fitted on {c.rows:,} "
        f"inspections of {c.weeks}; never on the holdout)\n\n"
        f"Holdout Brier score {brier_score_loss(holdout[OUTCOME], holdout['score']):.4f} calibrated{before}. "
        "Reliability on the holdout, by decile of the calibrated score:\n\n"
        + selected.reliability.to_markdown(index=False, floatfmt=("d", "d", ".3f", ".3f"))
        + "\n"
    )


def _fairness_section(selected: Selected) -> str:
    decision = selected.decision
    if decision is None:
        return ""
    days = ", ".join(f"{policy}: {value:.1f}" for policy, value in decision.days_earlier.items())
    return (
        f"\n## Fairness: {decision.deployed} deployed\n\n{decision.why}.\n\n"
        f"Days earlier on the holdout by policy ({days}). Disparities against Restaurant at the top "
        f"{decision.flagged_share:.0%}, under each policy; a gap is explained by base rates when the group is "
        "flagged in proportion to its fail rate:\n\n" + decision.table.round(3).to_markdown(index=False) + "\n"
    )


AREAS_SHOWN = 10  # the card lists the areas flagged furthest beyond (and below) their findings; the table has all


def _area_section(selected: Selected) -> str:
    if "zip" not in selected.holdout.columns:
        return ""
    holdout, threshold, share, min_size = fairness.as_deployed(selected.holdout, selected.decision)
    table = fairness.area_audit(holdout, threshold, min_size)
    named = table[~table["area"].isin([fairness.SMALL_AREAS, fairness.NO_AREA])].dropna(subset=["flags_per_finding"])
    if named.empty:
        return ""
    ordered = named.sort_values("flags_per_finding", ascending=False)
    shown = pd.concat([ordered.head(AREAS_SHOWN // 2), ordered.tail(AREAS_SHOWN // 2)]).drop_duplicates("area")
    columns = ["area", "group_size", "flagged_share", "positive_share", "flags_per_finding", "fpr_disparity"]
    outside = len(fairness.areas_outside_band(table))
    return (
        f"\n## Fairness by area (ZIP code)\n\nAt the top {share:.0%} of the holdout as deployed: each area's share "
        f"of the flags against its share of the positives (`flags_per_finding` above 1: flagged beyond what was "
        f"found there), FPR against the largest area ({table.loc[table['reference'], 'area'].iloc[0]}). "
        f"{len(named)} areas of at least {min_size} inspections; {outside} outside [0.8, 1.25] on some measure "
        f"(every area: the `area_audit` table). The {len(shown)} furthest from 1:\n\n"
        + shown[columns].round(3).to_markdown(index=False)
        + "\n"
    )


def model_card(selected: Selected, leakage: list[str]) -> str:
    """A short markdown card: what, trained on what, how good, against what."""
    shown = (
        "roc_auc",
        "average_precision",
        f"precision_top_{int(selected.settings.top_share * 100)}pct",
        "accuracy",
        "log_loss",
        "brier",
        "days_earlier",
        "fails_in_first_half",
    )
    header = "| model | " + " | ".join(shown) + " |\n|" + " --- |" * (len(shown) + 1) + "\n"
    rows = "".join(
        f"| {'**' + name + '**' if name == selected.name else name} | "
        + " | ".join(f"{metrics[m]:.3f}" for m in shown)
        + " |\n"
        for name, metrics in selected.metrics.items()
    )
    window = selected.window
    return (
        f"# Model card: {selected.version}\n\n"
        f"- **Model**: {selected.name} (scikit-learn pipeline: imputation, scaling, one-hot encoding inside)\n"
        f"- **Selected by**: {selected.reason or 'holdout ' + selected.metric}, among xgboost, knn, logistic\n"
        f"- **Trained on**: {window.trained_on}, {selected.train_rows:,} inspections\n"
        f"- **Holdout**: weeks {window.cutoff} to {window.end} (exclusive), {len(selected.holdout):,} inspections; "
        "metrics below come from the model fitted without them\n"
        f"- **Features** ({len(selected.features)}): only what is known before the inspection date: "
        + ", ".join(selected.features)
        + f"\n- **Target**: `{selected.settings.target}`: {selected.target.description}\n"
        + f"- **Leakage warnings**: {'; '.join(leakage) if leakage else f'none (every holdout AUC <= {LEAKAGE_AUC})'}\n"
        + "- **Trained with**: "
        + ", ".join(f"{name} {version}" for name, version in selected.libraries.items())
        + " (scoring refuses other versions)\n\n"
        + "## Holdout metrics (baselines: the previous result; the training fail rate)\n\n"
        + header
        + rows
        + "\n`days_earlier`: mean days by which fails are found earlier when the holdout's inspections are visited in "
        "score order (City of Chicago's simulation); `fails_in_first_half`: share of fails found in the first half "
        "of the window that way.\n"
        + _calibration_section(selected)
        + _fairness_section(selected)
        + _area_section(selected)
        + (
            "\n## Rolling-origin backtest (each cutoff: fitted on the weeks before it, scored on the "
            f"{selected.settings.holdout_weeks} weeks from it)\n\n" + evaluation.backtest_table(selected.backtest)
            if not selected.backtest.empty
            else ""
        )
        + _chicago_section(selected)
    )


def _chicago_section(selected: Selected) -> str:
    frame = selected.chicago
    if frame.empty:
        return ""
    columns = ["model", "cutoff", "rows", "positives", "roc_auc", "days_earlier", "first_half_real"]
    columns += ["first_half_model", "found_later"]
    return (
        f"\n## The City of Chicago's protocol on the same windows (target `{selected.settings.target}`)\n\n"
        f"Canvass inspections only (no re-inspections), the first {evaluation.CHICAGO_DAYS} days of each window, "
        f"visited in score order; positives: {selected.target.found}. `first_half_real` and `first_half_model`: "
        "the share of positives found in the first half of the window in the real order and in score order; "
        "`found_later`: the share found later than in reality. The City's own model (2014, target a critical "
        "violation): 7.44 days earlier, first half 55% -> 69%.\n\n"
        + frame[columns].to_markdown(index=False, floatfmt=".3f")
        + "\n"
    )
