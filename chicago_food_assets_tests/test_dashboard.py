"""The Panel dashboard in a real headless Chromium, against a PostgreSQL filled by the pipeline.

Screenshots go to test-artifacts/ (not committed).
"""

import os
from pathlib import Path

import pandas as pd
import psycopg2
import pytest
from playwright.sync_api import expect

from chicago_food_assets.embedded import with_database
from chicago_food_assets.launcher import dashboard_command
from chicago_food_assets.resources.postgres import read_table
from chicago_food_assets_tests.conftest import ARTIFACTS, needs_chromium
from chicago_food_assets_tests.helpers import free_port, start_process
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


def test_the_page_renders_the_plots_and_the_numbers_of_the_tables(browser, dashboard, pipeline):
    page = browser.new_page(viewport={"width": 1400, "height": 2600})
    page.goto(dashboard)
    page.wait_for_selector("#model-version", timeout=30_000)
    expect(page.locator(".bk-Figure").first).to_be_visible(timeout=30_000)  # locators pierce Bokeh's shadow DOM
    model = read_table(pipeline["postgres"], "food", "current_model").iloc[0]
    assert page.locator("#model-version").inner_text() == model.model_version
    expect(page.get_by_text(f"{model['name']}, selected by holdout roc_auc")).to_be_visible()

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
    shown = int(page.locator("#scores").inner_text().replace(",", ""))
    assert shown == expected_count(monitoring, first, last, types[:3]) > 0
    plots = page.locator(".bk-Figure, .bk-GridPlot").count()
    assert plots >= 4  # distributions, drift, calibration, fairness (titles are drawn on the canvas)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    # a person adds a facility type: the summary follows the table
    added = types[3]
    page.get_by_label(added, exact=True).check()
    expect(page.locator("#scores")).to_have_text(
        f"{expected_count(monitoring, first, last, types[:4]):,}", timeout=15_000
    )
    page.screenshot(path=str(ARTIFACTS / "dashboard-four-types.png"), full_page=True)
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
