"""The Socrata replay server in a process of its own, for benchmarks that must not share the pipeline's CPU."""

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def replay_process() -> Iterator[str]:
    """Serve the bundled sample on a free port; yields the `host:port` domain for SocrataResource."""
    server = subprocess.Popen(
        [sys.executable, "-m", "chicago_food_assets.replay", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = server.stdout.readline()  # "replaying N rows of FILE at http://127.0.0.1:PORT/resource/..."
        yield line.split("http://")[1].split("/")[0]
    finally:
        server.terminate()
        server.wait(10)
