"""This week's visit list, for an inspection supervisor (Panel): where the due places are, in which order, and why;
and how past lists did once their inspections arrived.

Served beside the monitoring dashboard by `./run dashboard` (http://127.0.0.1:5006/visit_list), reading as the
read-only role (CHICAGO_FOOD_DASHBOARD_DATABASE_URL). The map is the places' coordinates coloured by risk, drawn
without map tiles: it works offline.
"""

import io
import os
from typing import Any

import holoviews as hv
import hvplot.pandas  # noqa: F401 - registers .hvplot
import pandas as pd
import panel as pn
import psycopg2
import psycopg2.extras

from chicago_food_assets.core.declarations.contracts import LIST_EVALUATION, PLACE_NAME, SCHEMA, VISIT_LIST
from service.api import exports
from service.dashboard.charts import WIDTH, style
from service.dashboard.dashboard import nothing_to_show, notice, reason_text

SHOWN = VISIT_LIST.select(
    [
        "rank",
        "dba_name",
        "address",
        "zip",
        "facility_type",
        "score",
        "days_overdue",
        "reasons",
        "latitude",
        "longitude",
        "on_map",
        "license",
        "establishment",
    ]
).names
JUDGED = LIST_EVALUATION.select(
    [
        "scope",
        "week",
        "period",
        "coverage",
        "canvass_coverage",
        "inspected_on_list",
        "roc_auc",
        "precision_top_20",
        "days_earlier",
    ]
).names
MIN_JUDGED = 30  # a week's ROC AUC is drawn only when it rests on this many inspected listed places
HEADERS = {
    "rank": "Rank",
    "dba_name": "Name",
    "address": "Address",
    "zip": "ZIP",
    "score": "Risk of failing",
    "days_overdue": "Days overdue",
    "reasons": "Why (hover for all)",
}  # the facility type is the sidebar's filter and the map's hover: the reasons get its room


def shown(names: tuple[str, ...]) -> str:
    """The columns of a page's query; a place's name is its legal one, else its public one (some extracts dropped
    the legal name: a list must not open with nameless places)."""
    return ", ".join(f"{PLACE_NAME} AS dba_name" if name == "dba_name" else name for name in names)


def read_frame(url: str, statement: str, params: tuple = ()) -> pd.DataFrame:
    """A query's rows as a DataFrame, JSON left as text (the dashboard pages' reads)."""
    with psycopg2.connect(url, connect_timeout=3) as connection, connection.cursor() as cursor:
        psycopg2.extras.register_default_jsonb(connection, loads=str)
        cursor.execute(statement, params)
        return pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])


def weeks(url: str) -> list:
    return read_frame(url, f"SELECT DISTINCT week FROM {SCHEMA}.visit_list ORDER BY week DESC")["week"].tolist()


def week_list(url: str, week: Any) -> pd.DataFrame:
    table = read_frame(url, f"SELECT {shown(SHOWN)} FROM {SCHEMA}.visit_list WHERE week = %s ORDER BY rank", (week,))
    return table.assign(reasons=reason_text(table["reasons"]))


def route_csv(url: str, week: Any, types: list[str], min_score: float, zip_code: str) -> str:
    """The list as filtered in the sidebar, as the API's CSV of a list (`exports.VISITS`): one format wherever a list
    is downloaded."""
    where = "week = %s AND score >= %s AND (%s OR facility_type = ANY(%s)) AND (%s OR zip = %s)"
    place = zip_code.strip()
    return export_csv(url, exports.VISITS, where, (week, min_score, not types, list(types), not place, place))


def export_csv(url: str, export: exports.Export, where: str, params: tuple) -> str:
    """The rows of `export` that `where` (psycopg's parameters) keeps, as the API writes them (PostgreSQL's COPY)."""
    with psycopg2.connect(url, connect_timeout=3) as connection, connection.cursor() as cursor:
        query = cursor.mogrify(export.csv_query(where), params).decode()
        out = io.StringIO()
        cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)", out)
    return out.getvalue()


def evaluation(url: str) -> pd.DataFrame:
    try:
        return read_frame(url, f"SELECT {', '.join(JUDGED)} FROM {SCHEMA}.list_evaluation ORDER BY week")
    except psycopg2.errors.UndefinedTable:
        return pd.DataFrame(columns=list(JUDGED))


def chosen(table: pd.DataFrame, types: list[str], min_score: float, zip_code: str) -> pd.DataFrame:
    """The list as filtered in the sidebar, still in visiting order."""
    keep = table["score"] >= min_score
    if types:
        keep &= table["facility_type"].isin(types)
    if zip_code.strip():
        keep &= table["zip"] == zip_code.strip()
    return table[keep.to_numpy(dtype=bool)]


def risk_map(table: pd.DataFrame) -> hv.Points:
    """The listed places that have coordinates, coloured by score; hovering names the place."""
    placed = table[table["on_map"]].rename(columns={"longitude": "Longitude", "latitude": "Latitude"})
    points = hv.Points(
        placed, kdims=["Longitude", "Latitude"], vdims=["score", "dba_name", "address", "facility_type", "rank"]
    )
    return style(
        points.opts(
            color="score",
            cmap="YlOrRd",
            colorbar=True,
            size=5,
            tools=["hover"],
            width=WIDTH,
            height=520,
            title=f"{len(placed):,} places on the map (riskier is redder)",
            data_aspect=1.35,
            show_legend=False,
        )
    )


def evaluation_chart(judged: pd.DataFrame) -> hv.Layout:
    """Each judged week: how many inspected listed places it rests on (bars), and its ROC AUC and coverage where
    it rests on at least MIN_JUDGED of them (a week of five inspections is not drawn as an AUC of 1)."""
    weekly = judged[judged["scope"] != "pooled"].assign(week=lambda t: pd.to_datetime(t["week"]))
    sure = weekly["inspected_on_list"].fillna(0) >= MIN_JUDGED
    shown = weekly.assign(roc_auc=weekly["roc_auc"].where(sure), coverage=weekly["coverage"].where(sure))
    long = shown.melt(
        id_vars=["week", "inspected_on_list"],
        value_vars=["roc_auc", "coverage"],
        var_name="measure",
        value_name="value",
    )
    lines = long.hvplot.line(
        x="week",
        y="value",
        by="measure",
        title=f"Past lists, judged on the inspections that followed (weeks of {MIN_JUDGED}+ inspected listed places)",
        ylim=(0, 1.05),
        legend="top_right",
        height=280,
        width=WIDTH,
        hover_cols=["inspected_on_list"],
    ) * long.hvplot.scatter(x="week", y="value", by="measure", hover_cols=["inspected_on_list"], size=30)
    bars = weekly.hvplot.step(
        x="week",
        y="inspected_on_list",
        where="mid",
        title="What each week rests on: listed places with a canvass inspection that week",
        height=200,
        width=WIDTH,
        color="#888888",
        ylabel="inspected",
        ylim=(0, None),
    ) * hv.HLine(MIN_JUDGED).opts(color="gray", line_dash="dotted")
    return hv.Layout(
        [style(lines * hv.HLine(0.5).opts(color="gray", line_dash="dotted"), show_legend=True), style(bars)]
    ).cols(1)


def pooled_text(judged: pd.DataFrame) -> str:
    pooled = judged[judged["scope"] == "pooled"]
    if pooled.empty:
        return "No past list has been judged yet: its week's inspections have not arrived."
    row = pooled.iloc[-1]

    def share(value: object) -> str:
        return "n/a" if pd.isna(value) else f"{value:.0%}"

    auc = "n/a" if pd.isna(row["roc_auc"]) else f"{row['roc_auc']:.3f}"
    return (
        f"Pooled over the weeks outside the model's training: ROC AUC **{auc}**; "
        f"<span id='coverage'>{share(row['coverage'])}</span> of the weeks' inspections "
        f"({share(row['canvass_coverage'])} of canvass inspections) were at listed places."
    )


def build(url: str) -> pn.template.BootstrapTemplate:
    title = "This week's visit list"
    try:
        available = weeks(url)
    except (psycopg2.OperationalError, psycopg2.errors.UndefinedTable) as error:
        return nothing_to_show(title, "visit list", error)
    if not available:
        return nothing_to_show(title, "visit list")
    fit = {"sizing_mode": "stretch_width"}
    week = pn.widgets.Select(name="Week", options=available, value=available[0], **fit)
    types = pn.widgets.MultiChoice(name="Facility types", options=[], value=[], solid=False, **fit)
    floor = pn.widgets.FloatSlider(name="Minimum score", start=0.0, end=1.0, step=0.01, value=0.0, **fit)
    zip_code = pn.widgets.TextInput(name="ZIP code", placeholder="all", **fit)
    cache: dict[Any, pd.DataFrame] = {}

    def listed(day: Any) -> pd.DataFrame:
        if day not in cache:
            cache.clear()  # one week at a time: a city's list is tens of thousands of rows
            cache[day] = week_list(url, day)
            types.options = sorted(cache[day]["facility_type"].dropna().unique().tolist())
        return cache[day]

    def shown(day: Any, kinds: list[str], low: float, place: str) -> pd.DataFrame:
        return chosen(listed(day), kinds, low, place)

    def heading(day: Any, kinds: list[str], low: float, place: str) -> str:
        table = shown(day, kinds, low, place)
        unmapped = int((~table["on_map"]).sum())
        off = f" ({unmapped:,} without coordinates: in the table, not on the map)" if unmapped else ""
        return f"## Week of {day}: <span id='listed'>{len(table):,}</span> places due, riskiest first{off}"

    def route_sheet(day: Any, kinds: list[str], low: float, place: str) -> object:
        table = shown(day, kinds, low, place)
        # one line a place, 25 to a page: names and addresses whole, the reasons in one line (all of them on hover)
        return pn.widgets.Tabulator(
            table[list(HEADERS)].assign(score=table["score"].round(3)),
            show_index=False,
            disabled=True,
            sizing_mode="stretch_width",
            layout="fit_data_stretch",
            pagination="remote",
            page_size=25,
            name="visit-list",
            titles=HEADERS,
            widths={"reasons": 360},  # the rest of the reasons on hover: the numbers stay on screen
            configuration={"columnDefaults": {"headerSort": False, "tooltip": True}},
        )

    def download(day: Any, kinds: list[str], low: float, place: str) -> object:
        return pn.widgets.FileDownload(
            callback=lambda: io.StringIO(route_csv(url, day, kinds, low, place)),
            filename=f"visit-list-{day}.csv",
            label="Download this list (CSV)",
            button_type="primary",
            name="download",
        )

    def mapped(day: Any, kinds: list[str], low: float, place: str) -> object:
        table = shown(day, kinds, low, place)
        if not table["on_map"].any():
            return notice("No listed place with coordinates to map.")
        return pn.pane.HoloViews(risk_map(table))

    judged = evaluation(url)
    bound = (week, types, floor, zip_code)
    return pn.template.BootstrapTemplate(
        title=title,
        sidebar=[week, types, floor, zip_code, pn.panel(pn.bind(download, *bound))],
        main=[
            pn.pane.Markdown(pn.bind(heading, *bound)),
            pn.panel(pn.bind(route_sheet, *bound)),
            pn.panel(pn.bind(mapped, *bound)),
            "## How past lists did",
            pn.pane.Markdown(pooled_text(judged), css_classes=["pooled"]),
            pn.pane.HoloViews(evaluation_chart(judged))
            if (judged["scope"] != "pooled").any()
            else notice("No past list has been judged yet."),
        ],
        sidebar_width=240,
    )


if __name__.startswith("bokeh"):  # under `panel serve`
    pn.extension("tabulator")
    build(os.environ["CHICAGO_FOOD_DASHBOARD_DATABASE_URL"]).servable(title="This week's visit list")
