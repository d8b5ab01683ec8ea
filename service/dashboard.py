"""The monitoring dashboard a model owner opens on Monday morning (Panel, hvPlot/Bokeh).

Start it with `./run dashboard`, or `panel serve service/dashboard.py --address 127.0.0.1 --port 5006
--allow-websocket-origin=127.0.0.1:5006` with CHICAGO_FOOD_DASHBOARD_DATABASE_URL set to the read-only role's URL.
Reads score_monitoring, fairness_audit and current_model; says so plainly when they are empty or the database
is down.
"""

import json
import os
from dataclasses import dataclass

import holoviews as hv
import hvplot.pandas  # noqa: F401 - registers .hvplot
import numpy as np
import pandas as pd
import panel as pn
import psycopg2
import psycopg2.extras

from chicago_food_assets.core.contracts import CURRENT_MODEL, FAIRNESS_AUDIT, SCORE_MONITORING

FAIR_BAND = (0.8, 1.25)
PSI_ALERT = 0.2
ALL = "All"


MONITORED = SCORE_MONITORING.select(
    ["week", "facility_type", "count", "mean", "psi", "fail_rate", "histogram", "reference_histogram"]
).names
AUDITED = FAIRNESS_AUDIT.select(["facility_type", "group_size", "fpr", "fdr", "fpr_disparity", "fdr_disparity"]).names


@dataclass
class Data:
    monitoring: pd.DataFrame
    fairness: pd.DataFrame
    model: pd.Series | None


def load(url: str) -> Data:
    """Three small queries: a year of weekly monitoring is a few thousand rows."""
    with psycopg2.connect(url, connect_timeout=3) as connection, connection.cursor() as cursor:
        psycopg2.extras.register_default_jsonb(connection, loads=str)  # JSON columns as their text, parsed below
        model = _query(cursor, f"SELECT {', '.join(CURRENT_MODEL.names)} FROM food.current_model LIMIT 1")
        version = model["model_version"].iloc[0] if len(model) else None
        monitoring = _query(
            cursor,
            f"SELECT {', '.join(MONITORED)} FROM food.score_monitoring WHERE model_version = %s ORDER BY week",
            (version,),
        )
        fairness = _query(
            cursor,
            f"SELECT {', '.join(AUDITED)} FROM food.fairness_audit WHERE model_version = %s ORDER BY group_size DESC",
            (version,),
        )
    monitoring["week"] = pd.to_datetime(monitoring["week"])
    for name in ("first_week", "cutoff", "holdout_end"):
        model[name] = pd.to_datetime(model[name])
    return Data(monitoring, fairness, model.iloc[0] if len(model) else None)


def _query(cursor: "psycopg2.extensions.cursor", statement: str, params: tuple = ()) -> pd.DataFrame:
    cursor.execute(statement, params)
    return pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])


def distribution(rows: pd.DataFrame, types: list[str]) -> hv.Layout:
    """Chosen weeks' score histogram against training's, per facility type (shares on the training deciles)."""
    plots = []
    for name in types:
        part = rows[rows["facility_type"] == name]
        if part.empty:
            continue
        chosen = np.sum([json.loads(h) for h in part["histogram"]], axis=0).astype(float)
        training = np.asarray(json.loads(part["reference_histogram"].iloc[0]), dtype=float)
        bins = [f"d{i + 1}" for i in range(len(chosen))]
        frame = pd.DataFrame(
            {
                "decile of training scores": bins * 2,
                "share": np.r_[chosen / max(chosen.sum(), 1), training / max(training.sum(), 1)],
                "scores": ["chosen weeks"] * len(bins) + ["training"] * len(bins),
            }
        )
        plots.append(
            frame.hvplot.bar(
                x="decile of training scores",
                y="share",
                by="scores",
                title=name,
                height=260,
                width=420,
                legend="top_right",
                rot=0,
                ylim=(0, None),
            )
        )
    return hv.Layout(plots).cols(2) if plots else hv.Layout([hv.Text(0, 0, "no scores")])


def drift(rows: pd.DataFrame, types: list[str]) -> hv.Overlay:
    part = rows[rows["facility_type"].isin(types)]
    lines = part.hvplot.line(
        x="week",
        y="psi",
        by="facility_type",
        title="Drift: PSI against training per facility type",
        height=300,
        width=860,
        ylabel="PSI",
    )
    return lines * hv.HLine(PSI_ALERT).opts(color="red", line_dash="dashed")


def calibration(rows: pd.DataFrame) -> hv.Overlay:
    part = rows[rows["facility_type"] == ALL].rename(columns={"mean": "mean score", "fail_rate": "fail rate"})
    return part.hvplot.line(
        x="week",
        y=["mean score", "fail rate"],
        title="Fail rate against mean score (all types)",
        height=300,
        width=860,
        ylabel="share",
    )


def fairness_plot(table: pd.DataFrame) -> hv.Overlay:
    long = table.melt(
        id_vars="facility_type",
        value_vars=["fpr_disparity", "fdr_disparity"],
        var_name="metric",
        value_name="disparity",
    )
    bars = long.hvplot.bar(
        x="facility_type",
        y="disparity",
        by="metric",
        rot=30,
        height=320,
        width=860,
        title="FPR and FDR disparity against Restaurant (fair band 0.8-1.25)",
    )
    return bars * hv.HSpan(*FAIR_BAND).opts(color="green", alpha=0.15)


def summary(rows: pd.DataFrame, types: list[str], first: pd.Timestamp, last: pd.Timestamp) -> str:
    part = rows[rows["facility_type"].isin(types)]
    if part.empty:
        return f"**No scores** for the chosen facility types between {first:%Y-%m-%d} and {last:%Y-%m-%d}."
    count = int(part["count"].sum())
    mean = float((part["mean"] * part["count"]).sum() / count)
    fails = float((part["fail_rate"] * part["count"]).sum() / count)
    worst = part.loc[part["psi"].idxmax()]
    return (
        f"Weeks **{first:%Y-%m-%d}** to **{last:%Y-%m-%d}**, {len(types)} facility types: "
        f"<span id='scores'>{count:,}</span> scores, mean score {mean:.3f}, fail rate {fails:.3f}; "
        f"largest drift PSI {worst['psi']:.2f} ({worst['facility_type']}, week of {worst['week']:%Y-%m-%d})."
    )


def model_card(model: pd.Series) -> str:
    metrics = json.loads(model["metrics"])
    best = metrics[model["name"]]
    rows = "".join(
        f"| {name} | {m['roc_auc']:.3f} | {m['days_earlier']:.1f} | {m['brier']:.3f} |\n" for name, m in metrics.items()
    )
    return (
        f"### Model <span id='model-version'>{model['model_version']}</span>\n"
        f"{model['name']}, selected by holdout {model['metric']}; trained on weeks from {model['first_week']:%Y-%m-%d} "
        f"to {model['cutoff']:%Y-%m-%d}, judged on {model['cutoff']:%Y-%m-%d} to {model['holdout_end']:%Y-%m-%d}. "
        f"Holdout ROC AUC **{best['roc_auc']:.3f}**, fails found **{best['days_earlier']:.1f} days earlier**.\n\n"
        f"| model | ROC AUC | days earlier | Brier |\n| --- | --- | --- | --- |\n{rows}"
    )


def notice(text: str, kind: str = "warning") -> pn.pane.Alert:
    return pn.pane.Alert(text, alert_type=kind, css_classes=["notice"])


def build(url: str) -> pn.viewable.Viewable:
    try:
        data = load(url)
    except (psycopg2.OperationalError, psycopg2.errors.UndefinedTable) as error:
        reason = (
            "the pipeline has not published its tables yet"
            if isinstance(error, psycopg2.errors.UndefinedTable)
            else "the database is not reachable"
        )
        return pn.Column(
            "# Inspection risk monitoring",
            notice(
                f"No data to show: {reason}. Reload this page once it is back. ({str(error).strip().splitlines()[0]})",
                "danger",
            ),
        )
    if data.model is None or data.monitoring.empty:
        return pn.Column(
            "# Inspection risk monitoring",
            notice("No scores yet: the monitoring table is empty. Run the pipeline (`./run demo`), then reload."),
        )

    weeks = sorted(data.monitoring["week"].dt.date.unique())
    types = (
        data.monitoring[data.monitoring["facility_type"] != ALL]
        .groupby("facility_type")["count"]
        .sum()
        .sort_values(ascending=False)
        .index.tolist()
    )
    first = pn.widgets.Select(name="First week", options=weeks, value=weeks[max(len(weeks) - 12, 0)], width=160)
    last = pn.widgets.Select(name="Last week", options=weeks, value=weeks[-1], width=160)
    chosen = pn.widgets.CheckBoxGroup(name="Facility types", options=types, value=types[:3], inline=True)

    def window(first_week: object, last_week: object) -> pd.DataFrame:
        low, high = pd.Timestamp(min(first_week, last_week)), pd.Timestamp(max(first_week, last_week))
        return data.monitoring[(data.monitoring["week"] >= low) & (data.monitoring["week"] <= high)]

    def text(first_week: object, last_week: object, facility_types: list[str]) -> str:
        low, high = pd.Timestamp(min(first_week, last_week)), pd.Timestamp(max(first_week, last_week))
        return summary(window(first_week, last_week), facility_types, low, high)

    return pn.Column(
        "# Inspection risk monitoring",
        pn.pane.Markdown(model_card(data.model)),
        pn.Row(first, last),
        chosen,
        pn.pane.Markdown(pn.bind(text, first, last, chosen), css_classes=["summary"]),
        pn.pane.HoloViews(pn.bind(lambda a, b, t: distribution(window(a, b), t), first, last, chosen)),
        pn.pane.HoloViews(pn.bind(lambda t: drift(data.monitoring, t), chosen)),
        pn.pane.HoloViews(calibration(data.monitoring)),
        pn.pane.HoloViews(fairness_plot(data.fairness))
        if not data.fairness.empty
        else notice("No fairness audit for this model."),
    )


if __name__.startswith("bokeh"):  # under `panel serve`
    pn.extension(sizing_mode="fixed")
    build(os.environ["CHICAGO_FOOD_DASHBOARD_DATABASE_URL"]).servable(title="Inspection risk monitoring")
