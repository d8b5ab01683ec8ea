"""This week's plan, for an inspection supervisor and each inspector (Panel): who visits which places on which day,
in which order, and why each place is on the plan.

Served beside the monitoring dashboard by `./run dashboard` (http://127.0.0.1:5006/plan), reading as the read-only
role (CHICAGO_FOOD_DASHBOARD_DATABASE_URL). Per inspector-day: a map of the numbered stops joined in visiting order
from the start point and back (drawn without map tiles: it works offline) and a compact table of the stops.
"""

import io
import os
from typing import Any

import holoviews as hv
import pandas as pd
import panel as pn
import psycopg2

from chicago_food_assets.core.declarations.contracts import INSPECTION_PLAN, SCHEMA
from chicago_food_assets.core.lists import plans
from service.api.plans import SHEETS
from service.dashboard.charts import WIDTH, style
from service.dashboard.dashboard import nothing_to_show, notice, reason_text
from service.dashboard.visit_list import export_csv, read_frame, shown

TABLE = f"{SCHEMA}.{INSPECTION_PLAN.name}"
SHOWN = INSPECTION_PLAN.select(
    [
        "inspector",
        "inspector_name",
        "day",
        "stop",
        "route",
        "why",
        "rank",
        "dba_name",
        "address",
        "zip",
        "risk",
        "days_overdue",
        "score",
        "reasons",
        "km",
        "day_km",
        "list_order_km",
        "latitude",
        "longitude",
        "start_latitude",
        "start_longitude",
    ]
).names
HEADERS = {
    "stop": "Stop",
    "dba_name": "Name",
    "address": "Address",
    "why": "Why planned",
    "score": "Risk of failing",
    "km": "km from previous",
    "days_overdue": "Days overdue",
    "zip": "ZIP",
    "reasons": "Reasons (hover for all)",
}


def weeks(url: str) -> list:
    return read_frame(url, f"SELECT DISTINCT week FROM {TABLE} ORDER BY week DESC")["week"].tolist()


def week_plan(url: str, week: Any) -> pd.DataFrame:
    table = read_frame(url, f"SELECT {shown(SHOWN)} FROM {TABLE} WHERE week = %s ORDER BY line", (week,))
    return table.assign(reasons=reason_text(table["reasons"]))


def totals(plan: pd.DataFrame, listed: int) -> str:
    """The week in one paragraph (core/lists/plans.totals): visits against the list, the floor, places to locate,
    km."""
    t = plans.totals(plan, listed)
    saved = (
        f", {1 - t['km'] / t['list_order_km']:.0%} less than the same stops in list order" if t["list_order_km"] else ""
    )
    return (
        f"<span id='planned'>{t['planned']:,}</span> visits of the {listed:,} places due "
        f"({t['backlog']:,} stay on the list as the backlog), {t['inspectors']} inspectors; "
        f"{t['floor']} for the legal floor; {t['to_locate']} to locate first; {t['km']:,.0f} km in all{saved}."
    )


def route_map(day: pd.DataFrame) -> hv.Overlay:
    """One inspector-day: the start, the stops numbered in order, joined from the start and back."""
    start = (float(day["start_longitude"].iloc[0]), float(day["start_latitude"].iloc[0]))
    stops = day.sort_values("stop")
    path = [start, *zip(stops["longitude"], stops["latitude"], strict=True), start]
    points = stops.rename(columns={"longitude": "Longitude", "latitude": "Latitude", "dba_name": "name"})
    line = hv.Path([path]).opts(color="#3a6ea5", line_width=2)
    dots = hv.Points(points, kdims=["Longitude", "Latitude"], vdims=["stop", "name", "address", "score"]).opts(
        color="score", cmap="YlOrRd", size=14, tools=["hover"], line_color="black"
    )
    labels = hv.Labels(points, kdims=["Longitude", "Latitude"], vdims=["stop"]).opts(
        text_font_size="9pt", text_color="black"
    )
    home = hv.Points([start], kdims=["Longitude", "Latitude"]).opts(marker="square", size=12, color="#3a6ea5")
    km = float(day["day_km"].iloc[0])
    return style(
        (line * dots * labels * home).opts(
            width=WIDTH,
            height=460,
            xlabel="Longitude",
            ylabel="Latitude",
            title=f"{len(stops)} stops, {km:.1f} km (the square: where the day starts)",
        )
    )


def stop_table(day: pd.DataFrame) -> pn.widgets.Tabulator:
    columns = list(HEADERS)
    shown = day.sort_values("stop")[columns].assign(score=day["score"].round(2), km=day["km"].round(1))
    return pn.widgets.Tabulator(
        shown,
        show_index=False,
        disabled=True,
        sizing_mode="stretch_width",
        titles=HEADERS,
        layout="fit_data_stretch",
        widths={"reasons": 240},
        name="stops",
        configuration={"columnDefaults": {"headerSort": False, "tooltip": True}},
    )


def sheet_csv(url: str, week: Any, inspector: int) -> str:
    """One inspector's week as the API's CSV route sheet (`plans.SHEETS`): one format wherever a plan is downloaded."""
    return export_csv(url, SHEETS, "week = %s AND inspector = %s", (week, inspector))


def build(url: str) -> pn.template.BootstrapTemplate:
    title = "This week's inspection plan"
    try:
        available = weeks(url)
    except (psycopg2.OperationalError, psycopg2.errors.UndefinedTable) as error:
        return nothing_to_show(title, "plan", error)
    if not available:
        return nothing_to_show(title, "plan")
    fit = {"sizing_mode": "stretch_width"}
    week = pn.widgets.Select(name="Week", options=available, value=available[0], **fit)
    inspector = pn.widgets.Select(name="Inspector", options={}, **fit)
    day = pn.widgets.Select(name="Day", options=[], **fit)
    cache: dict[Any, pd.DataFrame] = {}

    def planned(monday: Any) -> pd.DataFrame:
        if monday not in cache:
            cache.clear()
            cache[monday] = week_plan(url, monday)
            names = cache[monday].drop_duplicates("inspector").sort_values("inspector")
            inspector.options = dict(zip(names["inspector_name"], names["inspector"].astype(int), strict=True))
            inspector.value = int(names["inspector"].iloc[0]) if len(names) else None
        return cache[monday]

    def days_of(monday: Any, who: int | None) -> None:
        plan = planned(monday)
        mine = plan[(plan["inspector"] == who) & plan["day"].notna()]
        options = sorted(mine["day"].unique().tolist())
        day.options = options
        day.value = options[0] if options else None

    planned(week.value)  # fills the inspectors of the newest week
    days_of(week.value, inspector.value)
    pn.bind(days_of, week, inspector, watch=True)

    def heading(monday: Any) -> str:
        listed = int(
            read_frame(url, f"SELECT count(*) AS n FROM {SCHEMA}.visit_list WHERE week = %s", (monday,))["n"][0]
        )
        return f"## Week of {monday}\n\n" + totals(planned(monday), listed)

    def route(monday: Any, who: int | None, when: Any) -> object:
        plan = planned(monday)
        part = plan[(plan["inspector"] == who) & (plan["day"] == when)]
        if part.empty:
            return notice("No routed stop for this inspector and day.")
        name = part["inspector_name"].iloc[0]
        return pn.Column(
            pn.pane.Markdown(f"### {name}, {pd.Timestamp(when):%A %Y-%m-%d}"),
            pn.pane.HoloViews(route_map(part)),
            stop_table(part),
        )

    def to_locate(monday: Any, who: int | None) -> object:
        plan = planned(monday)
        apart = plan[(plan["inspector"] == who) & (plan["route"] == "to_locate")]
        if apart.empty:
            return pn.pane.Markdown("")
        columns = ["dba_name", "address", "zip", "why", "score"]
        return pn.Column(
            pn.pane.Markdown(f"### To locate first ({len(apart)}: no coordinates, not routed)"),
            pn.widgets.Tabulator(apart[columns], show_index=False, disabled=True, titles=HEADERS, width=WIDTH),
        )

    def download(monday: Any, who: int | None) -> object:
        return pn.widgets.FileDownload(
            callback=lambda: io.StringIO(sheet_csv(url, monday, int(who or 1))),
            filename=f"plan-{monday}-inspector-{who}.csv",
            label="Download this inspector's week (CSV)",
            button_type="primary",
            name="download",
        )

    return pn.template.BootstrapTemplate(
        title=title,
        sidebar=[week, inspector, day, pn.panel(pn.bind(download, week, inspector))],
        main=[
            pn.pane.Markdown(pn.bind(heading, week)),
            pn.panel(pn.bind(route, week, inspector, day)),
            pn.panel(pn.bind(to_locate, week, inspector)),
        ],
        sidebar_width=240,
    )


if __name__.startswith("bokeh"):  # under `panel serve`
    pn.extension("tabulator")
    build(os.environ["CHICAGO_FOOD_DASHBOARD_DATABASE_URL"]).servable(title="This week's inspection plan")
