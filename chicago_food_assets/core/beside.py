"""A call computed in a helper process while this process goes on (the second core), its result asked for later.

The helper is a fresh interpreter (`spawn`), never a fork: a fork of a process whose OpenMP threads exist
(XGBoost's) can hang in the child. The call and its arguments are written to one pickle file the helper reads (no
copy of them held in this process's memory while the helper reads). If the helper dies without an answer, the call
is made here: the result is the same, only later. An error raised by the call itself is raised here.
"""

import pickle
import queue
import tempfile
import traceback
from collections.abc import Callable
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Generic, TypeVar

Result = TypeVar("Result")
CONTEXT = get_context("spawn")  # the helpers' (and the objects they share)
WAIT_SECONDS = 1.0  # how often a wait for the answer looks whether the helper still lives


class Beside(Generic[Result]):
    """`function(*shared, *arguments)` started in a helper process; `result()` waits for it. `shared` are objects
    the two processes share (a `multiprocessing` Value of the same context: handed over at the start, not pickled).
    A context manager: leaving it stops a helper whose answer was not asked for (a step that failed in between)."""

    def __init__(self, function: Callable[..., Result], *arguments: Any, shared: tuple = ()) -> None:
        self.function, self.arguments, self.shared = function, arguments, shared
        self.folder = tempfile.TemporaryDirectory(prefix="beside-")
        call = Path(self.folder.name) / "call.pickle"
        with call.open("wb") as handle:
            pickle.dump((function, arguments), handle, protocol=pickle.HIGHEST_PROTOCOL)
        self.answers = CONTEXT.Queue()
        self.process = CONTEXT.Process(target=answer, args=(str(call), self.answers, *shared), daemon=True)
        self.process.start()

    def result(self) -> Result:
        """The call's result: the helper's, or, if it died without answering, computed here."""
        try:
            while True:
                ended = not self.process.is_alive()  # before the wait: an answer sent before it ended still comes
                try:
                    kind, value = self.answers.get(timeout=WAIT_SECONDS)
                    break
                except queue.Empty:
                    if ended:
                        return self.function(*self.shared, *self.arguments)
        finally:
            self.close()
        if kind == "error":
            raise value
        return value

    def close(self) -> None:
        """Stop the helper (if still running) and remove its file."""
        self.process.join(timeout=1)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.folder.cleanup()

    def __enter__(self) -> "Beside[Result]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def answer(call: str, answers: Any, *shared: Any) -> None:
    """The helper: the call read from its file, made, and its result (or its error) sent back."""
    try:
        with Path(call).open("rb") as handle:
            function, arguments = pickle.load(handle)
        answers.put(("result", function(*shared, *arguments)))
    except Exception as error:  # sent back to be raised where the call was started (one that cannot be pickled
        traceback.print_exc()  # never arrives: the call is then made again there, and raises it)
        answers.put(("error", error))
    finally:
        answers.close()
        answers.join_thread()
