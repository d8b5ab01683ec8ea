"""A range's visit lists on both cores.

The weeks of a range are independent: each week's list reads only the rows dated before it. Threads do not help
(the lists' pandas work holds the interpreter's lock: 6 weeks took 8.5 s on two threads, 9.1 s on one), so a
helper process builds weeks beside this one. Both take the next week not yet taken from one counter, so neither
waits for the other's share. The helper is a fresh interpreter (`spawn`), never a fork: a fork of a process whose
OpenMP threads exist (XGBoost's, after a score in the same run) can hang in the child. It reads what the lists read
from one pickle written for it (about 0.3 s for 300,000 rows of history) and starts building about 1.5 s later.

Every list is `visits.visit_list`'s, whichever process built it (a test compares them with the lists built in
order). If the helper fails or dies, this process builds the weeks it did not return; an error of the lists
themselves is then raised here, as without a helper.
"""

import pickle
import queue
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing import get_context
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from chicago_food_assets.core.lists import visits

if TYPE_CHECKING:
    from chicago_food_assets.core.models.training import Selected

HELPER_WEEKS = 4  # fewer weeks are built here alone: a helper's start (about 2 s) would cost what it saves
WAIT_SECONDS = 1.0  # how often a wait for the helper's lists looks whether it still lives
PATIENCE = 60.0  # a helper silent this long past ten times this process's slowest week is given up on


def visit_lists(
    weeks: Sequence[pd.Timestamp],
    inspections: pd.DataFrame,
    closing: pd.DataFrame,
    citations: pd.DataFrame | None,
    model: "Selected",
    settings: visits.ListSettings,
    helpers: int = 1,
    helper: "Callable[..., None] | None" = None,
) -> list[pd.DataFrame]:
    """`visits.visit_list` of every week, in the order of `weeks`, built here and by `helpers` helper processes
    (none for fewer than HELPER_WEEKS weeks). `helper` is the helpers' function (tests give one that fails)."""
    arguments = (inspections, closing, citations, model, settings)
    if helpers < 1 or len(weeks) < HELPER_WEEKS:
        return [visits.visit_list(week, *arguments) for week in weeks]
    context = get_context("spawn")
    built: dict[int, pd.DataFrame] = {}
    with tempfile.TemporaryDirectory(prefix="visit-lists-") as folder:
        shared = Path(folder) / "inputs.pickle"
        with shared.open("wb") as handle:
            pickle.dump((list(weeks), arguments), handle, protocol=pickle.HIGHEST_PROTOCOL)
        taken = context.Value("i", 0)
        answers = context.Queue()
        processes = [
            context.Process(target=helper or help_build, args=(str(shared), taken, answers), daemon=True)
            for _ in range(helpers)
        ]
        for process in processes:
            process.start()
        try:
            slowest = 0.0
            while (index := take(taken, len(weeks))) is not None:
                start = time.monotonic()
                built[index] = visits.visit_list(weeks[index], *arguments)
                slowest = max(slowest, time.monotonic() - start)
            heard = time.monotonic()
            while len(built) < len(weeks) and any(process.is_alive() for process in processes):
                if time.monotonic() - heard > PATIENCE + 10 * slowest:
                    break  # a hung helper: its weeks are built here
                try:
                    index, table = answers.get(timeout=WAIT_SECONDS)
                except queue.Empty:
                    continue
                built[index], heard = table, time.monotonic()
            while len(built) < len(weeks):  # answers sent just before the helpers ended
                try:
                    index, table = answers.get(timeout=WAIT_SECONDS)
                except queue.Empty:
                    break
                built[index] = table
        finally:
            for process in processes:
                process.join(timeout=5)
                if process.is_alive():
                    process.terminate()
                    process.join()
    for index, week in enumerate(weeks):  # a helper that failed or died: its weeks, built here
        if index not in built:
            built[index] = visits.visit_list(week, *arguments)
    return [built[index] for index in range(len(weeks))]


def take(taken: "Synchronized[int]", count: int) -> int | None:
    """The next week not yet taken by any process, or None when all are."""
    with taken.get_lock():
        index = int(taken.value)
        if index >= count:
            return None
        taken.value = index + 1
        return index


def help_build(shared: str, taken: "Synchronized[int]", answers: Any) -> None:
    """A helper process: the lists of the weeks it takes, sent back as (index, table). On an error it stops (the
    weeks it did not send are built by the process that started it, which raises the error)."""
    try:
        with Path(shared).open("rb") as handle:
            weeks, arguments = pickle.load(handle)
        while (index := take(taken, len(weeks))) is not None:
            answers.put((index, visits.visit_list(weeks[index], *arguments)))
    except Exception:  # reported here; the starting process builds the week again and raises it there
        traceback.print_exc()
    finally:
        answers.close()
        answers.join_thread()
