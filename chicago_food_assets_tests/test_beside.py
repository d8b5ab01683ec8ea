"""A call computed in a helper process: its result, its error, and a helper that dies (the call made here)."""

import os

import pandas as pd
import pytest

from chicago_food_assets.core.beside import Beside


def total(frame: pd.DataFrame, column: str) -> tuple[int, int]:
    return int(frame[column].sum()), os.getpid()


def refuse(message: str) -> None:
    raise ValueError(message)


def die_elsewhere(starter: int) -> str:
    """Dies in any process but the one that started the call (what a killed helper leaves)."""
    if os.getpid() != starter:
        os._exit(3)
    return "made here"


def test_a_call_beside_gives_its_result_from_another_process():
    frame = pd.DataFrame({"n": range(100_000)})
    with Beside(total, frame, "n") as call:
        value, where = call.result()
    assert value == sum(range(100_000)) and where != os.getpid()
    assert not call.process.is_alive()


def test_an_error_of_the_call_is_raised_where_it_was_started():
    with pytest.raises(ValueError, match="no such week"), Beside(refuse, "no such week") as call:
        call.result()


def test_a_helper_that_dies_leaves_the_call_to_be_made_here():
    with Beside(die_elsewhere, os.getpid()) as call:
        assert call.result() == "made here"
    assert call.process.exitcode == 3
