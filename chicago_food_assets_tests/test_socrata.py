"""The Socrata resource: paging, retries with backoff, clear failures, against the replay server over HTTP."""

from datetime import datetime

import pytest

from chicago_food_assets.resources.socrata import SocrataError
from chicago_food_assets_tests.helpers import inject, request_log, rows_between

START, END = datetime(2013, 1, 7), datetime(2013, 1, 21)


def test_a_window_is_paged_in_inspection_id_order_and_loses_nothing(socrata, replay, sample_rows):
    pull = socrata.model_copy(update={"page_size": 100}).fetch_window(START, END)
    expected = rows_between(sample_rows, "2013-01-07", "2013-01-21")
    assert len(pull.rows) == len(expected) > 300
    assert [int(r["inspection_id"]) for r in pull.rows] == sorted(int(r["inspection_id"]) for r in expected)
    assert pull.requests == len(expected) // 100 + 1
    assert [int(r["params"]["$offset"]) for r in request_log(replay)] == list(range(0, 100 * pull.requests, 100))
    assert pull.bytes > 0 and pull.retries == 0
    assert all(r["token"] == "test-token" for r in request_log(replay))


def test_429_then_success_is_retried(socrata, replay):
    inject(replay, status=429, times=2)
    pull = socrata.fetch_window(START, END)
    assert pull.retries == 2 and len(pull.rows) > 300
    assert len(request_log(replay)) == 3


def test_a_slow_answer_times_out_and_is_retried(socrata, replay):
    inject(replay, delay=1.5, times=1)
    pull = socrata.model_copy(update={"timeout_seconds": 0.5}).fetch_window(START, END)
    assert pull.retries == 1 and len(pull.rows) > 300


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
