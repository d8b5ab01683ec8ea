"""The Socrata resource: paging, retries with backoff, clear failures, against the replay server over HTTP."""

import re
from datetime import datetime

import pytest
import requests

from chicago_food_assets.resources.socrata import SocrataError
from chicago_food_assets_tests.helpers import inject, request_log, rows_between

START, END = datetime(2013, 1, 7), datetime(2013, 1, 21)


def test_a_window_is_paged_in_inspection_id_order_and_loses_nothing(socrata, replay, sample_rows):
    pull = socrata.model_copy(update={"page_size": 100}).fetch_window(START, END)
    expected = rows_between(sample_rows, "2013-01-07", "2013-01-21")
    assert len(pull.frame) == len(expected) > 300
    assert pull.frame["inspection_id"].astype(int).tolist() == sorted(int(r["inspection_id"]) for r in expected)
    assert pull.requests == len(expected) // 100 + 1
    log = request_log(replay)
    assert "$offset" not in str(log) and "inspection_id >=" in log[1]["params"]["$where"]  # paged by key
    assert pull.bytes > 0 and pull.retries == 0
    assert all(r["token"] == "test-token" for r in request_log(replay))


@pytest.mark.faults
def test_429_then_success_is_retried(socrata, replay):
    inject(replay, status=429, times=2)
    pull = socrata.fetch_window(START, END)
    assert pull.retries == 2 and len(pull.frame) > 300
    assert len(request_log(replay)) == 3


@pytest.mark.faults
def test_a_slow_answer_times_out_and_is_retried(socrata, replay):
    inject(replay, delay=1.5, times=1)
    pull = socrata.model_copy(update={"timeout_seconds": 0.5}).fetch_window(START, END)
    assert pull.retries == 1 and len(pull.frame) > 300


@pytest.mark.faults
def test_a_persistent_500_fails_with_a_clear_error_after_every_attempt(socrata, replay):
    inject(replay, status=500, times=-1)
    with pytest.raises(SocrataError, match=r"kept failing after 3 attempts.*500 Server Error"):
        socrata.fetch_window(START, END)
    assert len(request_log(replay)) == 3


def test_an_unknown_dataset_fails_at_once_and_names_it(socrata, replay):
    with pytest.raises(SocrataError, match="dataset 'nope-nope' does not exist"):
        socrata.model_copy(update={"dataset_id": "nope-nope"}).fetch_window(START, END)
    assert len(request_log(replay)) == 1  # retrying cannot fix a 404


def test_a_bad_token_fails_at_once_and_says_so(socrata, replay):
    with pytest.raises(SocrataError, match="app token is not accepted"):
        socrata.model_copy(update={"app_token": "stolen"}).fetch_window(START, END)
    assert len(request_log(replay)) == 1


@pytest.mark.faults
@pytest.mark.parametrize(
    "fault",
    [{"cut": 2000}, {"cut_headers": True}, {"empty": True}, {"status": 503}, {"delay": 1.5}],
    ids=["body cut mid-stream", "headers cut", "empty body", "503", "timeout"],
)
def test_every_transient_failure_is_retried_and_counted(socrata, replay, sample_rows, fault):
    inject(replay, **fault, times=2)
    pull = socrata.model_copy(update={"timeout_seconds": 0.5}).fetch_window(START, END)
    assert len(pull.frame) == len(rows_between(sample_rows, "2013-01-07", "2013-01-21"))
    assert pull.retries == 2 and pull.requests >= 3


@pytest.mark.faults
def test_a_portal_edit_during_the_pull_neither_skips_nor_repeats_a_row(socrata, replay, sample_rows):
    expected = rows_between(sample_rows, "2013-01-07", "2013-01-21")
    first_page = sorted(expected, key=lambda r: int(r["inspection_id"]))[:100]
    moved = {**first_page[10], "inspection_date": "2014-06-02T00:00:00.000"}  # out of the window, already received
    try:
        inject(replay, times=1)  # the first page goes through
        inject(replay, rows=[moved], times=1)  # then the portal edits a row it held
        pull = socrata.model_copy(update={"page_size": 100}).fetch_window(START, END)
        ids = pull.frame["inspection_id"].tolist()
        assert len(ids) == len(set(ids)) == len(expected)  # with $offset paging, one row was skipped here
    finally:
        requests.post(f"http://{replay.domain}/__replay/rows", json=[first_page[10]], timeout=5)


MAINTENANCE = "<!DOCTYPE html><html><body><h1>Down for maintenance</h1></body></html>"
BAD_BODIES = {
    "maintenance page": {"body": MAINTENANCE},
    "html labelled json": {"body": MAINTENANCE, "content_type": "application/json; charset=utf-8"},
    "json cut in half": {"half": True},
    "csv": {"body": "inspection_id,dba_name\n1,A\n", "content_type": "text/csv"},
    "json object": {"body": '{"message": "try later"}', "content_type": "application/json"},
}


@pytest.mark.faults
@pytest.mark.parametrize("fault", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_200_whose_body_is_not_the_rows_asked_for_is_retried(socrata, replay, sample_rows, fault):
    inject(replay, **fault, times=2)
    pull = socrata.fetch_window(START, END)
    assert len(pull.frame) == len(rows_between(sample_rows, "2013-01-07", "2013-01-21"))
    assert pull.retries == 2 and len(request_log(replay)) == 3


@pytest.mark.faults
@pytest.mark.parametrize(
    ("fault", "what"),
    [
        (BAD_BODIES["maintenance page"], rf"200 \(text/html; charset=utf-8, {len(MAINTENANCE)} bytes\).*not JSON"),
        (
            BAD_BODIES["html labelled json"],
            rf"200 \(application/json; charset=utf-8, {len(MAINTENANCE)} bytes\).*not complete JSON",
        ),
        (BAD_BODIES["json cut in half"], r"200 \(application/json; charset=utf-8, [\d,]+ bytes\).*not complete JSON"),
    ],
    ids=["maintenance page", "html labelled json", "json cut in half"],
)
def test_a_bad_body_that_never_stops_fails_naming_socrata_the_query_the_answer_and_the_fault(
    socrata, replay, fault, what
):
    inject(replay, **fault, times=-1)
    with pytest.raises(SocrataError) as failure:
        socrata.fetch_window(START, END)
    message = str(failure.value)
    assert message.startswith("Socrata (http://") and "kept failing after 3 attempts" in message
    assert "GET /resource/4ijn-s7e5.json?$where=inspection_date >= '2013-01-07T00:00:00'" in message
    assert re.search(what, message), message
    assert len(request_log(replay)) == 3
