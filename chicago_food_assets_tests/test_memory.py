"""A step's freed memory goes back to the system before the next step loads (resources/memory.py)."""

import os

from chicago_food_assets.resources import memory


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_the_heap_a_step_freed_is_given_back_before_the_next_loads():
    """300 MB of 1 KB values (glibc's heap, as a step's rows are), one in a hundred still alive: the process keeps
    the rest until `release`, which gives most of it back."""
    memory.release()  # what earlier tests in this process freed: so that the values below grow the process
    before = resident_mb()
    values = [bytes(1024) + bytes([i % 256]) for i in range(300_000)]
    survivors = values[::100]
    grown = resident_mb() - before
    del values
    assert grown > 250 and resident_mb() - before > 0.8 * grown  # freed, but still the process's
    memory.release()
    assert resident_mb() - before < 0.3 * grown
    assert len(survivors) == 3_000
