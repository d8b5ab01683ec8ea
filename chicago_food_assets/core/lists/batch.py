"""A range's visit lists on both cores.

The weeks of a range are independent: each week's list reads only the rows dated before it. Threads do not help
(the lists' pandas work holds the interpreter's lock: 6 weeks took 8.5 s on two threads, 9.1 s on one), so helper
processes (`beside.Beside`) build weeks beside this one. Every process takes the next week not yet taken from one
shared counter, so none waits for another's share; a helper starts building about 1.5 s after it is started.

Every list is `visits.visit_list`'s, whichever process built it (a test compares them with the lists built in
order). The weeks a helper took and did not return (it failed or died) are built here; an error of the lists
themselves is then raised here, as without a helper.
"""

import copy
from collections.abc import Callable, Sequence
from multiprocessing.sharedctypes import Synchronized
from typing import TYPE_CHECKING, Any

import pandas as pd

from chicago_food_assets.core.beside import CONTEXT, Beside
from chicago_food_assets.core.lists import visits

if TYPE_CHECKING:
    from chicago_food_assets.core.models.training import Selected

HELPER_WEEKS = 4  # fewer weeks are built here alone: a helper's start (about 2 s) would cost what it saves


def visit_lists(
    weeks: Sequence[pd.Timestamp],
    inspections: pd.DataFrame,
    closing: pd.DataFrame,
    citations: pd.DataFrame | None,
    model: "Selected",
    settings: visits.ListSettings,
    helpers: int = 1,
    helper: "Callable[..., dict[int, pd.DataFrame]] | None" = None,
) -> list[pd.DataFrame]:
    """`visits.visit_list` of every week, in the order of `weeks`, built here and by `helpers` helper processes
    (none for fewer than HELPER_WEEKS weeks). `helper` is what the helpers run (`build_taken`; tests give one that
    dies)."""
    if helpers < 1 or len(weeks) < HELPER_WEEKS:
        return [visits.visit_list(week, inspections, closing, citations, model, settings) for week in weeks]
    arguments = (inspections, closing, citations, one_thread(model), settings)
    taken = CONTEXT.Value("i", 0)
    built: dict[int, pd.DataFrame] = {}
    calls = [Beside(helper or build_taken, list(weeks), arguments, shared=(taken,)) for _ in range(helpers)]
    try:
        built.update(build_taken(taken, weeks, arguments))
        for call in calls:
            built.update(call.result())
    finally:
        for call in calls:
            call.close()
    for index, week in enumerate(weeks):  # taken by a helper that failed or died
        if index not in built:
            built[index] = visits.visit_list(week, *arguments)
    return [built[index] for index in range(len(weeks))]


def one_thread(model: "Selected") -> "Selected":
    """The model predicting on one thread (its predictions do not depend on the count). Side by side, two processes'
    OpenMP threads (XGBoost's, scikit-learn's) wait for each other's cores: with the sample's XGBoost model, 12 weeks
    took 14-21 s with a helper against 6.5-8.8 s in order, and 7.0-7.3 s once both run OpenMP on one thread
    (`build_taken`). BLAS keeps its threads: on one, the logistic regression's scores moved in their last bit."""
    threads = model.pipeline.named_steps["model"].get_params().get("n_jobs")
    if threads is None or threads == 1:
        return model
    single = copy.deepcopy(model)
    single.pipeline.set_params(model__n_jobs=1)
    return single


def build_taken(
    taken: "Synchronized[int]", weeks: Sequence[pd.Timestamp], arguments: tuple[Any, ...]
) -> dict[int, pd.DataFrame]:
    """The lists of the weeks this process takes, one after another, until every week is taken: {index: list}."""
    from threadpoolctl import threadpool_limits

    built = {}
    with threadpool_limits(limits=1, user_api="openmp"):  # side by side, OpenMP threads wait for each other's cores
        while (index := take(taken, len(weeks))) is not None:
            built[index] = visits.visit_list(weeks[index], *arguments)
    return built


def take(taken: "Synchronized[int]", count: int) -> int | None:
    """The next week not yet taken by any process, or None when all are."""
    with taken.get_lock():
        index = int(taken.value)
        if index >= count:
            return None
        taken.value = index + 1
        return index
