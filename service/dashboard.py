"""The monitoring dashboard a model owner opens on Monday morning (Panel, hvPlot/Bokeh).

Start it with `./run dashboard`, or `panel serve service/dashboard.py --address 127.0.0.1 --port 5006
--allow-websocket-origin=127.0.0.1:5006` with CHICAGO_FOOD_DASHBOARD_DATABASE_URL set to the read-only role's URL.
Reads score_monitoring, fairness_audit, current_model and the week's riskiest inspection_scores; says so plainly
when they are empty or the database is down. Charts are drawn as SVG, so their text is real text (the browser test
measures that no two labels overlap).
"""

import json
import os
from dataclasses import dataclass
from typing import Any

import holoviews as hv
import hvplot.pandas  # noqa: F401 - registers .hvplot
import numpy as np
import pandas as pd
import panel as pn
import psycopg2
import psycopg2.extras

from chicago_food_assets.core.contracts import (
    CURRENT_MODEL,
    FAIRNESS_AUDIT,
    INSPECTION_SCORES,
    SCHEMA,
    SCORE_MONITORING,
)
from chicago_food_assets.core.fairness import FAIR_BAND
from chicago_food_assets.core.scoring import ALL, MIN_DRIFT_ROWS, PSI_ALERT

MONITORED = SCORE_MONITORING.select(
    ["week", "facility_type", "count", "mean", "psi", "fail_rate", "histogram", "training_histogram"]
).names
AUDITED = FAIRNESS_AUDIT.select(["facility_type", "group_size", "fpr", "fdr", "fpr_disparity", "fdr_disparity"]).names
RISKIEST = INSPECTION_SCORES.select(
    ["week", "rank", "inspection_id", "establishment", "facility_type", "score", "reasons"]
).names
TOP = 10  # riskiest places listed per week
PRESELECTED = 4  # facility types chosen at first paint: the largest
WIDTH = 900


@dataclass
class Data:
    monitoring: pd.DataFrame
    fairness: pd.DataFrame
    model: pd.Series | None
    riskiest: pd.DataFrame


def load(url: str) -> Data:
    """Four small queries: a year of weekly monitoring is a few thousand rows."""
    with psycopg2.connect(url, connect_timeout=3) as connection, connection.cursor() as cursor:
        psycopg2.extras.register_default_jsonb(connection, loads=str)  # JSON columns as their text, parsed below
        model = _query(cursor, f"SELECT {', '.join(CURRENT_MODEL.names)} FROM {SCHEMA}.current_model LIMIT 1")
        version = model["model_version"].iloc[0] if len(model) else None
        monitoring = _query(
            cursor,
            f"SELECT {', '.join(MONITORED)} FROM {SCHEMA}.score_monitoring WHERE model_version = %s ORDER BY week",
            (version,),
        )
        fairness = _query(
            cursor,
            f"SELECT {', '.join(AUDITED)} FROM {SCHEMA}.fairness_audit WHERE model_version = %s "
            "ORDER BY group_size DESC",
            (version,),
        )
        riskiest = _query(
            cursor,
            f"SELECT {', '.join(RISKIEST)} FROM {SCHEMA}.inspection_scores WHERE model_version = %s AND rank <= %s",
            (version, TOP),
        )
    monitoring["week"] = pd.to_datetime(monitoring["week"])
    riskiest["week"] = pd.to_datetime(riskiest["week"])
    for name in ("first_week", "cutoff", "holdout_end"):
        model[name] = pd.to_datetime(model[name])
    return Data(monitoring, fairness, model.iloc[0] if len(model) else None, riskiest)


def _query(cursor: "psycopg2.extensions.cursor", statement: str, params: tuple = ()) -> pd.DataFrame:
    cursor.execute(statement, params)
    return pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])


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
    sizeable = part[part["count"] >= MIN_DRIFT_ROWS].dropna(subset=["psi"])
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


def _style(element: hv.Element, **options: object) -> hv.Element:
    fontsize = {"title": 12, "labels": 10, "xticks": 9, "yticks": 9, "legend": 9}
    return element.opts(hooks=[_svg], fontsize=fontsize, shared_axes=False, **options)


def distribution(rows: pd.DataFrame, types: list[str]) -> hv.Layout:
    """Chosen weeks' score histogram against training's, per facility type (shares on the training deciles)."""
    plots = []
    for name in types:
        if rows[rows["facility_type"] == name].empty:
            continue
        frame = distribution_frame(rows, name)
        bars = frame.hvplot.bar(
            x="decile of training scores", y="share", by="scores", title=name, height=260, width=445, rot=0
        )
        headroom = float(frame["share"].max()) * 1.5  # the legend sits above the tallest bar
        plots.append(_style(bars, multi_level=False, show_legend=True, legend_position="top_right", ylim=(0, headroom)))
    return hv.Layout(plots).cols(2)


def drift(rows: pd.DataFrame, types: list[str]) -> hv.Overlay:
    sizeable = rows[rows["count"] >= MIN_DRIFT_ROWS]
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
    return _style(lines * line, show_legend=True)


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
    return _style(lines, show_legend=True)


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
    return _style(overlay, show_legend=True)


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
    return _style(band * dots, show_legend=True)


# -- text -----------------------------------------------------------------------------------------------------------
def summary(numbers: dict[str, Any], first: pd.Timestamp, last: pd.Timestamp) -> str:
    if not numbers["scores"]:
        return f"**No scores** for the chosen facility types between {first:%Y-%m-%d} and {last:%Y-%m-%d}."
    drift_text = (
        f"largest drift PSI **{numbers['drift'][0]:.2f}** ({numbers['drift'][1]}, week of "
        f"{numbers['drift'][2]:%Y-%m-%d})"
        if numbers["drift"]
        else f"no group of {MIN_DRIFT_ROWS}+ scores to judge drift on"
    )
    return (
        f"Weeks **{first:%Y-%m-%d}** to **{last:%Y-%m-%d}**: <span id='scores'>{numbers['scores']:,}</span> scores, "
        f"mean score **{numbers['mean_score']:.3f}**, fail rate **{numbers['fail_rate']:.3f}**; {drift_text}."
    )


def model_card(model: pd.Series) -> str:
    metrics = json.loads(model["metrics"])
    best = metrics[model["name"]]
    rows = "".join(
        f"| {name} | {m['roc_auc']:.3f} | {m['days_earlier']:.1f} | {m['brier']:.3f} |\n" for name, m in metrics.items()
    )
    chosen = model.get("selected_because") or f"holdout {model['metric']}"
    return (
        f"### Model <span id='model-version'>{model['model_version']}</span>\n"
        f"{model['name']}, selected by {chosen}; trained on weeks from {model['first_week']:%Y-%m-%d} "
        f"to {model['cutoff']:%Y-%m-%d}, judged on {model['cutoff']:%Y-%m-%d} to {model['holdout_end']:%Y-%m-%d}. "
        f"Holdout ROC AUC **{best['roc_auc']:.3f}**, fails found **{best['days_earlier']:.1f} days earlier**.\n\n"
        f"| model | ROC AUC | days earlier | Brier |\n| --- | --- | --- | --- |\n{rows}"
    )


BACKTEST_WIDTHS = {
    "model": 210,
    "cutoff": 100,
    "rows": 70,
    "ROC AUC": 95,
    "95% interval": 125,
    "precision@10%": 160,
    "days earlier": 120,
}


def backtest_frame(model: pd.Series) -> pd.DataFrame:
    """The published backtest: each model's cutoffs and pooled row, ROC AUC with its 95% interval."""
    rows = pd.DataFrame(json.loads(model.get("backtest") or "[]"))
    if rows.empty:
        return pd.DataFrame({"backtest": ["not published with this model"]})
    interval = rows["roc_auc_low"].map("{:.3f}".format) + "-" + rows["roc_auc_high"].map("{:.3f}".format)
    return pd.DataFrame(
        {
            "model": rows["model"],
            "cutoff": rows["cutoff"],
            "rows": rows["rows"],
            "ROC AUC": rows["roc_auc"].round(3),
            "95% interval": interval,
            "precision@10%": rows["precision_top_10pct"].round(3),
            "days earlier": rows["days_earlier"].round(1),
        }
    )


def reason_text(column: pd.Series) -> pd.Series:
    """The stored reasons (JSON) of a few rows, as one line each."""
    return column.map(lambda text: "; ".join(r["reason"] for r in json.loads(text)) if text else "")


def notice(text: str, kind: str = "warning") -> pn.pane.Alert:
    return pn.pane.Alert(text, alert_type=kind, css_classes=["notice"])


def page(main: list, sidebar: list | None = None) -> pn.template.BootstrapTemplate:
    template = pn.template.BootstrapTemplate(
        title="Inspection risk monitoring", sidebar=sidebar or [], main=main, sidebar_width=300
    )
    return template


def build(url: str) -> pn.template.BootstrapTemplate:
    try:
        data = load(url)
    except (psycopg2.OperationalError, psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn) as error:
        reason = {
            psycopg2.errors.UndefinedTable: "the pipeline has not published its tables yet",
            psycopg2.errors.UndefinedColumn: "the published tables predate this version: run the pipeline again",
        }.get(type(error), "the database is not reachable")
        first_line = str(error).strip().splitlines()[0]
        return page([notice(f"No data to show: {reason}. Reload this page once it is back. ({first_line})", "danger")])
    if data.model is None or data.monitoring.empty:
        return page([notice("No scores yet: the monitoring table is empty. Run the pipeline (`./run demo`), reload.")])

    weeks = sorted(data.monitoring["week"].dt.date.unique())
    types = (
        data.monitoring[data.monitoring["facility_type"] != ALL]
        .groupby("facility_type")["count"]
        .sum()
        .sort_values(ascending=False)
        .index.tolist()
    )
    fit = {"sizing_mode": "stretch_width"}
    first = pn.widgets.Select(name="First week", options=weeks, value=weeks[max(len(weeks) - 12, 0)], **fit)
    last = pn.widgets.Select(name="Last week", options=weeks, value=weeks[-1], **fit)
    chosen = pn.widgets.MultiChoice(
        name="Facility types (type to search)", options=types, value=types[:PRESELECTED], solid=False, **fit
    )

    def numbers(first_week: Any, last_week: Any, facility_types: list[str]) -> str:
        low, high = pd.Timestamp(min(first_week, last_week)), pd.Timestamp(max(first_week, last_week))
        return summary(headline(between(data.monitoring, low, high), facility_types), low, high)

    def distributions(first_week: object, last_week: object, facility_types: list[str]) -> object:
        if not facility_types:
            return notice("Choose at least one facility type in the sidebar.")
        return pn.pane.HoloViews(distribution(between(data.monitoring, first_week, last_week), facility_types))

    def drifts(facility_types: list[str]) -> object:
        if not facility_types:
            return notice("Choose at least one facility type to see its drift.")
        return pn.pane.HoloViews(drift(data.monitoring, facility_types))

    def riskiest_title(last_week: Any) -> str:
        return f"## Riskiest places in the week of {last_week}"

    def riskiest(last_week: Any) -> object:
        week = data.riskiest[data.riskiest["week"] == pd.Timestamp(last_week)].sort_values("rank")
        if week.empty:
            return notice(f"No scores in the week of {last_week}.")
        table = week.drop(columns=["week"]).assign(score=week["score"].round(3), reasons=reason_text(week["reasons"]))
        return pn.widgets.Tabulator(
            table,
            show_index=False,
            disabled=True,
            width=WIDTH,
            name="riskiest",
            formatters={"inspection_id": {"type": "plaintext"}, "reasons": {"type": "textarea"}},
            widths={
                "rank": 75,
                "inspection_id": 135,
                "establishment": 160,
                "facility_type": 145,
                "score": 80,
                "reasons": 295,
            },
            configuration={"columnDefaults": {"headerSort": False}},
        )

    reliability = reliability_plot(data.model)
    return page(
        sidebar=[first, last, chosen],
        main=[
            pn.Row(
                pn.pane.Markdown(model_card(data.model), width=520),
                pn.pane.Markdown(pn.bind(numbers, first, last, chosen), css_classes=["summary"], width=360),
            ),
            "## Score distribution against training",
            pn.panel(pn.bind(distributions, first, last, chosen)),
            "## Drift over time",
            pn.panel(pn.bind(drifts, chosen)),
            "## Rolling-origin backtest",
            pn.widgets.Tabulator(
                backtest_frame(data.model),
                show_index=False,
                disabled=True,
                width=WIDTH,
                widths=BACKTEST_WIDTHS,
                configuration={"columnDefaults": {"headerSort": False}},  # room for the headers' words
                name="backtest",
            ),
            "## Calibration",
            pn.pane.HoloViews(reliability)
            if reliability is not None
            else notice("This model was published without a reliability table."),
            pn.pane.HoloViews(calibration(data.monitoring)),
            "## Fairness of the current model",
            pn.pane.HoloViews(fairness_plot(data.fairness))
            if not data.fairness.empty
            else notice("No fairness audit for this model."),
            pn.pane.Markdown(pn.bind(riskiest_title, last)),
            pn.panel(pn.bind(riskiest, last)),
        ],
    )


if __name__.startswith("bokeh"):  # under `panel serve`
    pn.extension("tabulator")
    build(os.environ["CHICAGO_FOOD_DASHBOARD_DATABASE_URL"]).servable(title="Inspection risk monitoring")
