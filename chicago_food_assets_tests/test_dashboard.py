"""The Panel dashboard in a real headless Chromium, against a PostgreSQL filled by the pipeline.

Screenshots go to test-artifacts/ (not committed).
"""

import json
import os
from pathlib import Path

import pandas as pd
import psycopg2
import pytest
from playwright.sync_api import expect

from chicago_food_assets.local.embedded import with_database
from chicago_food_assets.local.launcher import dashboard_command
from chicago_food_assets.resources.tables import read_table
from chicago_food_assets_tests.conftest import ARTIFACTS, needs_chromium
from chicago_food_assets_tests.helpers import free_port, start_process, whole
from service.db import ensure_reader

PROJECT = Path(__file__).resolve().parent.parent
pytestmark = needs_chromium


def serve(database_url: str):
    port = free_port()
    env = {**os.environ, "CHICAGO_FOOD_DASHBOARD_DATABASE_URL": database_url}
    return start_process(
        dashboard_command("127.0.0.1", port), env, port, "/dashboard"
    ), f"http://127.0.0.1:{port}/dashboard"


@pytest.fixture(scope="module")
def dashboard(pipeline):
    process, url = serve(ensure_reader(pipeline["url"]))
    yield url
    process.terminate()
    process.wait(10)


def expected_count(monitoring: pd.DataFrame, first: str, last: str, types: list[str]) -> int:
    part = monitoring[(monitoring["week"] >= pd.Timestamp(first)) & (monitoring["week"] <= pd.Timestamp(last))]
    return int(part[part["facility_type"].isin(types)]["count"].sum())


def overlapping_labels(page) -> list[tuple]:
    """Pairs of chart labels (SVG text: the charts draw as SVG) whose boxes overlap on the page."""
    boxes = page.evaluate(
        """() => {
            const texts = [];
            const walk = (root) => {
                root.querySelectorAll('svg text').forEach((t) => texts.push(t));
                root.querySelectorAll('*').forEach((e) => e.shadowRoot && walk(e.shadowRoot));
            };
            walk(document);
            return texts.filter((t) => t.textContent.trim()).map((t) => {
                const r = t.getBoundingClientRect();
                return [t.textContent, r.left, r.top, r.right, r.bottom];
            });
        }"""
    )
    # a label drawn twice at the same place (Bokeh's SVG layers) is one label
    boxes = sorted({(text, *(round(v, 1) for v in box)) for text, *box in boxes})
    overlaps = []
    for i, (a, left, top, right, bottom) in enumerate(boxes):
        for b, left2, top2, right2, bottom2 in boxes[i + 1 :]:
            width = min(right, right2) - max(left, left2)
            height = min(bottom, bottom2) - max(top, top2)
            if width > 1 and height > 1:
                overlaps.append((a, b, (left, top), (left2, top2)))
    return overlaps


def figures_without_legend(page) -> list[str]:
    """Titles of the Bokeh figures that have no legend with items (every chart here compares two or more things)."""
    return page.evaluate(
        """() => [...Bokeh.documents[0].all_models]
            .filter((m) => m.type === 'Figure')
            .filter((f) => ![...f.center, ...f.left, ...f.right, ...f.above, ...f.below]
                .some((r) => r.type === 'Legend' && r.items.length > 0))
            .map((f) => f.title ? f.title.text : '(untitled)')"""
    )


def test_the_page_a_model_owner_reads_on_monday(browser, dashboard, pipeline):
    page = browser.new_page(viewport={"width": 1400, "height": 3000})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(dashboard)
    page.wait_for_selector("#model-version", timeout=30_000)
    expect(page.locator("svg text").first).to_be_attached(timeout=30_000)  # locators pierce Bokeh's shadow DOM
    whole(page)
    model = read_table(pipeline["postgres"], "food", "current_model").iloc[0]
    assert page.locator("#model-version").inner_text() == model.model_version
    expect(page.get_by_text(f"{model['name']}, selected by {model['selected_because']}")).to_be_visible()
    assert page.locator("#model-target").inner_text() == "the inspection fails"  # what the scores predict
    expect(page.get_by_text("Under the City of Chicago's protocol")).to_be_visible()
    backtest = page.get_by_text("Rolling-origin backtest")
    expect(backtest).to_be_visible()  # the published backtest's table: a pooled row per model, with its interval
    pooled = [row for row in json.loads(model["backtest"]) if row["cutoff"] == "pooled"]
    assert page.get_by_role("gridcell", name="pooled", exact=True).count() == len(pooled) >= 5
    # the audit by area: the ZIP code flagged furthest beyond its findings comes first, with its numbers
    areas = read_table(pipeline["postgres"], "food", "area_audit")
    first_area = areas[areas["model_version"] == model.model_version].sort_values(
        "flags_per_finding", ascending=False, na_position="last"
    )
    expect(page.get_by_text("Fairness by area")).to_be_visible()
    expect(page.get_by_role("gridcell", name=first_area["area"].iloc[0], exact=True)).to_be_visible()
    expect(page.get_by_role("columnheader", name="Flags per finding")).to_be_visible()

    monitoring = read_table(pipeline["postgres"], "food", "score_monitoring")
    monitoring = monitoring[monitoring["model_version"] == model.model_version]
    weeks = sorted(monitoring["week"].unique())
    first, last = weeks[max(len(weeks) - 12, 0)], weeks[-1]
    types = (
        monitoring[monitoring["facility_type"] != "All"]
        .groupby("facility_type")["count"]
        .sum()
        .sort_values(ascending=False)
        .index.tolist()
    )
    sidebar = page.locator("#sidebar")
    expect(sidebar.get_by_text("Facility types (type to search)")).to_be_visible()
    expect(sidebar.get_by_text("First week")).to_be_visible()
    for name in types[:4]:  # the largest types are chosen at first paint
        expect(sidebar.locator(".choices__item--selectable", has_text=name)).to_be_visible()
    shown = int(page.locator("#scores").inner_text().replace(",", ""))
    assert shown == expected_count(monitoring, first, last, types[:4]) > 0
    assert figures_without_legend(page) == []
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)  # before judging it: to look at
    assert overlapping_labels(page) == []
    assert page.get_by_text("Riskiest places in the week of").count() == 1
    riskiest = read_table(pipeline["postgres"], "food", "inspection_scores")
    riskiest = riskiest[(riskiest["week"] == riskiest["week"].max()) & (riskiest["rank"] == 1)].iloc[0]
    first_reason = json.loads(riskiest.reasons)[0]["reason"]  # the riskiest place's reasons, in its row
    expect(page.get_by_role("gridcell").filter(has_text=first_reason).first).to_be_visible()
    assert all(url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "blob:")) for url in requested)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    # a person removes a facility type in the sidebar: the numbers follow the table, labels still do not overlap
    removed = types[3]
    sidebar.locator(".choices__item", has_text=removed).locator("button").click()
    expect(page.locator("#scores")).to_have_text(
        f"{expected_count(monitoring, first, last, types[:3]):,}", timeout=15_000
    )
    page.wait_for_timeout(1500)
    whole(page)
    assert overlapping_labels(page) == [] and figures_without_legend(page) == []
    page.screenshot(path=str(ARTIFACTS / "dashboard-three-types.png"), full_page=True)
    page.close()


def test_a_database_that_is_down_gets_a_plain_message(browser, server_url):
    process, url = serve("postgresql://chicago_food_reader@127.0.0.1:1/nowhere")
    try:
        page = browser.new_page()
        page.goto(url)
        expect(page.get_by_text("No data to show: the database is not reachable")).to_be_visible(timeout=30_000)
        assert page.get_by_text("Traceback").count() == 0
        page.screenshot(path=str(ARTIFACTS / "dashboard-database-down.png"))
        page.close()
    finally:
        process.terminate()
        process.wait(10)


def test_an_unpublished_pipeline_gets_a_plain_message(browser, server_url):
    name = "cfa_empty_" + os.urandom(4).hex()
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    process, url = serve(with_database(server_url, name))
    try:
        page = browser.new_page()
        page.goto(url)
        expect(page.get_by_text("the pipeline has not published its tables yet")).to_be_visible(timeout=30_000)
        page.close()
    finally:
        process.terminate()
        process.wait(10)
        admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


def test_the_overlap_measure_sees_overlapping_labels(browser):
    page = browser.new_page()
    page.set_content(
        "<svg width='300' height='100'><text x='10' y='50'>2013-01-07</text><text x='40' y='52'>2013-01-14</text>"
        "<text x='200' y='50'>apart</text></svg>"
    )
    assert [(a, b) for a, b, *_ in overlapping_labels(page)] == [("2013-01-07", "2013-01-14")]
    page.close()


def test_the_visit_list_page_a_supervisor_reads_on_monday(dashboard, browser, pipeline):
    """The newest list: every place counted, the map of those with coordinates (no tiles, nothing from the
    internet), the ranked table with names and reasons, a ZIP filter, a download, and the past lists' evaluation."""
    lists = read_table(pipeline["postgres"], "food", "visit_list")
    newest = lists[lists["week"] == lists["week"].max()].sort_values("rank")
    page = browser.new_page(viewport={"width": 1600, "height": 1000})  # a supervisor's laptop
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(dashboard.replace("/dashboard", "/visit_list"))
    page.wait_for_selector("#listed", timeout=30_000)
    assert int(page.locator("#listed").inner_text().replace(",", "")) == len(newest)
    expect(page.locator("svg text").first).to_be_attached(timeout=30_000)
    expect(page.get_by_text(f"{int(newest['on_map'].sum()):,} places on the map").first).to_be_attached()
    top = newest.iloc[0]
    expect(page.get_by_role("gridcell", name=top["dba_name"], exact=True).first).to_be_visible()
    expect(page.get_by_text("Download this list (CSV)")).to_be_visible()
    # a supervisor reads at least 20 places on one screen, names and addresses whole, under human headers
    expect(page.get_by_role("columnheader", name="Name", exact=True)).to_be_visible()
    for header in ("Risk of failing", "Days overdue", "Why (hover for all)"):  # on screen, no sideways scrolling
        expect(page.get_by_role("columnheader", name=header, exact=True)).to_be_in_viewport(ratio=1)
    rows = page.locator(".tabulator-row")
    expect(rows.first).to_be_visible()
    on_screen = rows.evaluate_all("rows => rows.filter(r => r.getBoundingClientRect().bottom <= innerHeight).length")
    assert on_screen >= 20, on_screen
    cut = page.locator(".tabulator-cell[tabulator-field='dba_name'], .tabulator-cell[tabulator-field='address']")
    assert cut.evaluate_all("cells => cells.filter(c => c.scrollWidth > c.clientWidth + 1).length") == 0
    assert rows.first.evaluate("r => r.getBoundingClientRect().height") < 40  # one line a place, reasons unwrapped
    # the evaluation charts say what each week rests on, and a week of few inspections draws no AUC
    expect(page.get_by_text("What each week rests on").first).to_be_attached()
    evaluation = read_table(pipeline["postgres"], "food", "list_evaluation")
    pooled = evaluation[evaluation["scope"] == "pooled"].iloc[-1]
    assert page.locator("#coverage").inner_text() == f"{pooled['coverage']:.0%}"
    assert overlapping_labels(page) == []
    assert all(url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "blob:", "data:")) for url in requested)
    page.screenshot(path=str(ARTIFACTS / "visit-list.png"), full_page=True)

    zip_code = newest["zip"].value_counts().index[0]
    page.locator("#sidebar").get_by_placeholder("all").fill(zip_code)
    page.locator("#sidebar").get_by_placeholder("all").press("Enter")
    expect(page.locator("#listed")).to_have_text(f"{int((newest['zip'] == zip_code).sum()):,}", timeout=15_000)
    # the download is the API's CSV of a list (one format), filtered as the page is
    from service.dashboard.visit_list import route_csv

    with page.expect_download(timeout=30_000) as download:
        page.get_by_text("Download this list (CSV)").click()
    got = Path(download.value.path()).read_text()
    assert got == route_csv(ensure_reader(pipeline["url"]), newest["week"].iloc[0], [], 0.0, zip_code)
    assert (
        got.splitlines()[0].startswith("week,rank,") and len(got.splitlines()) == (newest["zip"] == zip_code).sum() + 1
    )
    page.close()


def test_the_plan_page_shows_each_inspectors_day_as_a_route_and_its_stops(dashboard, browser, pipeline):
    """The newest plan: its totals, the first inspector's first day as a map of numbered stops joined in order,
    the stop table in visiting order, and that inspector's route sheet as the API's CSV."""
    from service.dashboard.plan import sheet_csv

    plan = read_table(pipeline["postgres"], "food", "inspection_plan")
    newest = plan[plan["week"] == plan["week"].max()]
    first = newest[(newest["inspector"] == 1) & newest["day"].notna()]
    first_day = first[first["day"] == first["day"].min()].sort_values("stop")
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(dashboard.replace("/dashboard", "/plan"))
    page.wait_for_selector("#planned", timeout=30_000)
    assert int(page.locator("#planned").inner_text().replace(",", "")) == len(newest)
    expect(page.get_by_text(f"{len(first_day)} stops, {first_day['day_km'].iloc[0]:.1f} km").first).to_be_attached(
        timeout=30_000
    )
    names = page.locator(".tabulator-cell[tabulator-field='dba_name']")
    expect(names.first).to_be_visible()
    assert names.all_inner_texts()[: len(first_day)] == first_day["dba_name"].fillna("").tolist()
    for header in ("Why planned", "Risk of failing", "km from previous"):
        expect(page.get_by_role("columnheader", name=header, exact=True)).to_be_in_viewport(ratio=1)
    assert overlapping_labels(page) == []
    assert all(url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "blob:", "data:")) for url in requested)
    page.screenshot(path=str(ARTIFACTS / "plan.png"), full_page=True)
    with page.expect_download(timeout=30_000) as download:
        page.get_by_text("Download this inspector's week (CSV)").click()
    got = Path(download.value.path()).read_text()
    assert got == sheet_csv(ensure_reader(pipeline["url"]), newest["week"].iloc[0], 1)
    assert len(got.splitlines()) == int((newest["inspector"] == 1).sum()) + 1
    page.close()
