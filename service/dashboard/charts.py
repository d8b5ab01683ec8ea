"""The dashboard's numbers and charts: plain pandas shaping (tested without a browser), then HoloViews charts drawn
as SVG, so their text is real text."""

import json
from typing import Any

import holoviews as hv
import hvplot.pandas  # noqa: F401 - registers .hvplot
import numpy as np
import pandas as pd

from chicago_food_assets.core.models import scoring
from chicago_food_assets.core.models.fairness import FAIR_BAND
from chicago_food_assets.core.models.scoring import ALL, MIN_DRIFT_ROWS, PSI_ALERT

WIDTH = 900


# -- what the charts and numbers show: plain pandas, tested without a browser --------------------------------------
def between(rows: pd.DataFrame, first: Any, last: Any) -> pd.DataFrame:  # dates the widgets give
    low, high = pd.Timestamp(min(first, last)), pd.Timestamp(max(first, last))
    return rows[(rows["week"] >= low) & (rows["week"] <= high)]


def headline(rows: pd.DataFrame, types: list[str]) -> dict[str, Any]:
    """The chosen weeks' numbers: scores, mean score, fail rate, and the largest drift of a group big enough to
    mean something (the drift check's minimum), with where it happened."""
    part = rows[rows["facility_type"].isin(types)]
    count = int(part["count"].sum())
    if not count:
        return {"scores": 0}
    sizeable = scoring.sizeable(part).dropna(subset=["psi"])
    worst = sizeable.loc[sizeable["psi"].idxmax()] if len(sizeable) else None
    return {
        "scores": count,
        "mean_score": float((part["mean"] * part["count"]).sum() / count),
        "fail_rate": float((part["fail_rate"] * part["count"]).sum() / count),
        "drift": None if worst is None else (float(worst["psi"]), worst["facility_type"], worst["week"]),
    }


def with_gaps(rows: pd.DataFrame, column: str, groups: list[str]) -> pd.DataFrame:
    """One value per week and group, NaN where a week has no data, so a line breaks instead of bridging years."""
    if rows.empty:
        return pd.DataFrame(columns=["week", *groups])
    weeks = pd.date_range(rows["week"].min(), rows["week"].max(), freq="W-MON")
    wide = rows.pivot_table(index="week", columns="facility_type", values=column, aggfunc="first")
    wide = wide.reindex(index=weeks, columns=groups).rename_axis("week").reset_index()
    wide.columns.name = None  # otherwise the legend is titled "facility_type"
    return wide


def distribution_frame(rows: pd.DataFrame, name: str) -> pd.DataFrame:
    part = rows[rows["facility_type"] == name]
    chosen = np.sum([json.loads(h) for h in part["histogram"]], axis=0).astype(float)
    training = np.asarray(json.loads(part["training_histogram"].iloc[0]), dtype=float)
    bins = [f"{i + 1}" for i in range(len(chosen))]
    return pd.DataFrame(
        {
            "decile of training scores": bins * 2,
            "share": np.r_[chosen / max(chosen.sum(), 1), training / max(training.sum(), 1)],
            "scores": ["chosen weeks"] * len(bins) + ["training"] * len(bins),
        }
    )


# -- charts ---------------------------------------------------------------------------------------------------------
def _svg(plot: Any, element: Any) -> None:  # a Bokeh plot and its HoloViews element
    """Draw as SVG: text stays text (searchable, measurable, crisp)."""
    plot.state.output_backend = "svg"


def style(element: hv.Element, **options: object) -> hv.Element:
    fontsize = {"title": 12, "labels": 10, "xticks": 9, "yticks": 9, "legend": 9}
    return element.opts(hooks=[_svg], fontsize=fontsize, shared_axes=False, **options)


def distribution(rows: pd.DataFrame, name: str) -> hv.Element:
    """A facility type's score histogram in the chosen weeks against training's (shares on the training deciles);
    `rows` hold that type."""
    frame = distribution_frame(rows, name)
    bars = frame.hvplot.bar(
        x="decile of training scores", y="share", by="scores", title=name, height=240, width=WIDTH, rot=0
    )
    # the legend beside the plot, outside the data: no decile's bars are ever under it
    return style(bars, multi_level=False, show_legend=True, legend_position="right")


def drift(rows: pd.DataFrame, types: list[str]) -> hv.Overlay:
    sizeable = scoring.sizeable(rows)
    wide = with_gaps(sizeable, "psi", types)
    lines = wide.hvplot.line(
        x="week",
        y=types,
        title=f"Drift: PSI against training (groups of {MIN_DRIFT_ROWS}+ scores)",
        ylabel="PSI",
        legend="top_right",
        ylim=(0, max(float(wide[types].max().max()), PSI_ALERT) * 1.6),
        height=300,
        width=WIDTH,
    )
    line = hv.HLine(PSI_ALERT).opts(color="red", line_dash="dashed")
    return style(lines * line, show_legend=True)


def calibration(rows: pd.DataFrame) -> hv.Overlay:
    part = rows[rows["facility_type"] == ALL]
    means = with_gaps(part, "mean", [ALL]).rename(columns={ALL: "mean score"})
    wide = means.assign(**{"fail rate": with_gaps(part, "fail_rate", [ALL])[ALL]})
    lines = wide.hvplot.line(
        x="week",
        y=["mean score", "fail rate"],
        title="Fail rate against mean score (all types)",
        group_label="all facility types",
        ylim=(0, float(wide[["mean score", "fail rate"]].max().max()) * 1.4),
        ylabel="share",
        legend="top_right",
        height=300,
        width=WIDTH,
    )
    return style(lines, show_legend=True)


def reliability_plot(model: pd.Series) -> hv.Overlay | None:
    """The current model on its holdout: mean calibrated score against the observed fail rate, by score decile."""
    table = pd.DataFrame(json.loads(model.get("calibration") or "{}").get("reliability", []))
    if table.empty:
        return None
    top = float(table[["predicted", "observed"]].max().max()) * 1.15
    ideal = hv.Curve([(0, 0), (top, top)], "predicted", "observed", label="perfectly calibrated").opts(
        color="gray", line_dash="dashed"
    )
    points = hv.Curve(table, "predicted", "observed", label="holdout deciles").opts(color="#1f77b4")
    dots = hv.Scatter(table, "predicted", "observed", label="holdout deciles").opts(color="#1f77b4", size=7)
    overlay = (ideal * points * dots).opts(
        title="Calibration: observed fail rate by decile of the calibrated score",
        xlim=(0, top),
        ylim=(0, top),
        xlabel="mean predicted probability",
        ylabel="observed fail rate",
        legend_position="top_left",
        height=320,
        width=WIDTH // 2 + 100,
    )
    return style(overlay, show_legend=True)


def fairness_plot(table: pd.DataFrame) -> hv.Overlay:
    long = table.melt(
        id_vars="facility_type",
        value_vars=["fpr_disparity", "fdr_disparity"],
        var_name="metric",
        value_name="disparity",
    ).replace({"fpr_disparity": "FPR disparity", "fdr_disparity": "FDR disparity"})
    dots = long.hvplot.scatter(
        x="disparity",
        y="facility_type",
        by="metric",
        title="Disparity against Restaurant (green: the fair band 0.8-1.25)",
        size=90,
        legend="bottom_left",  # disparities under 0.5 are rare: the corner is usually empty
        xlabel="disparity (1 = as Restaurant)",
        ylabel="facility type",
        height=140 + 36 * table["facility_type"].nunique(),
        width=WIDTH,
        xlim=(0, max(2.0, float(long["disparity"].max() or 0) * 1.1)),
    )
    band = hv.VSpan(*FAIR_BAND).opts(color="green", alpha=0.15)
    return style(band * dots, show_legend=True)
