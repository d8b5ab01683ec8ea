"""The replay server answers the part of the SODA API we use, through sodapy over plain HTTP."""

import pytest
import requests
from sodapy import Socrata

from chicago_food_assets.local.replay import ReplayServer
from chicago_food_assets_tests.helpers import inject, rows_between

WEEK = "inspection_date >= '2013-01-07T00:00:00' AND inspection_date < '2013-01-14T00:00:00'"


def client(server: ReplayServer, token: str | None = "test-token") -> Socrata:
    adapter = {"prefix": "http://", "adapter": requests.adapters.HTTPAdapter()}
    return Socrata(server.domain, token, session_adapter=adapter, timeout=5)


def test_where_on_inspection_date_returns_exactly_that_weeks_rows(replay, sample_rows):
    rows = client(replay).get("4ijn-s7e5", where=WEEK, order="inspection_id", limit=50000)
    expected = rows_between(sample_rows, "2013-01-07", "2013-01-14")
    assert len(rows) == len(expected) > 100
    assert sorted(r["inspection_id"] for r in rows) == sorted(r["inspection_id"] for r in expected)
    assert [int(r["inspection_id"]) for r in rows] == sorted(int(r["inspection_id"]) for r in rows)
    assert rows[0] == next(r for r in expected if r["inspection_id"] == rows[0]["inspection_id"])  # as received


def test_limit_and_offset_page_through_the_same_order(replay):
    socrata = client(replay)
    whole = socrata.get("4ijn-s7e5", where=WEEK, order="inspection_id", limit=50000)
    pages = [
        socrata.get("4ijn-s7e5", where=WEEK, order="inspection_id", limit=40, offset=o)
        for o in range(0, len(whole), 40)
    ]
    assert [r for page in pages for r in page] == whole
    assert len(socrata.get("4ijn-s7e5", where=WEEK)) == min(1000, len(whole))  # SODA's default page


def test_count_and_max_aggregates(replay, sample_rows):
    answer = client(replay).get("4ijn-s7e5", select="count(*), max(inspection_date)", where=WEEK)
    week = rows_between(sample_rows, "2013-01-07", "2013-01-14")
    assert answer == [{"count": str(len(week)), "max_inspection_date": max(r["inspection_date"] for r in week)}]


def test_group_by_counts_each_value(replay, sample_rows):
    answer = client(replay).get("4ijn-s7e5", select="results, count(*) AS n", group="results", where=WEEK)
    week = rows_between(sample_rows, "2013-01-07", "2013-01-14")
    assert {row["results"]: int(row["n"]) for row in answer} == {
        value: sum(r["results"] == value for r in week) for value in {r["results"] for r in week}
    }


def test_wrong_token_is_forbidden_and_unknown_dataset_is_missing(replay):
    with pytest.raises(requests.HTTPError, match="403") as forbidden:
        client(replay, token="wrong").get("4ijn-s7e5", where=WEEK)
    assert "Invalid app_token" in str(forbidden.value)
    with pytest.raises(requests.HTTPError, match="404"):
        client(replay).get("zzzz-zzzz", where=WEEK)


def test_malformed_query_is_a_400_that_says_why(replay):
    with pytest.raises(requests.HTTPError, match="400") as error:
        client(replay).get("4ijn-s7e5", where="inspection_date >> 'x'")
    assert "cannot parse condition" in str(error.value)


def test_injected_faults_are_answered_then_cleared(replay):
    inject(replay, status=429, times=2, retry_after=1)
    base = f"http://{replay.domain}/resource/4ijn-s7e5.json"
    first, second, third = (requests.get(base, params={"$limit": 1}, timeout=5) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "1"


def test_rows_can_be_appended_and_edited_while_serving(sample_rows):
    row = dict(rows_between(sample_rows, "2013-01-07", "2013-01-08")[0])
    with ReplayServer([row]) as server:
        edited = {**row, "results": "Fail"}
        new = {**row, "inspection_id": "999999999"}
        answer = requests.post(f"http://{server.domain}/__replay/rows", json=[edited, new], timeout=5).json()
        assert answer == {"added": 1, "replaced": 1}
        rows = client(server).get("4ijn-s7e5", order="inspection_id")
        assert [(r["inspection_id"], r["results"]) for r in rows] == [
            (row["inspection_id"], "Fail"),
            ("999999999", row["results"]),
        ]
