"""The test suite's wall time, as `./run test` runs it here (the same pytest command; the install is its own row).
python -m benchmarks.suite
"""

import subprocess
import sys
import time
from pathlib import Path

from benchmarks.report import record

PROJECT = Path(__file__).resolve().parent.parent


def main() -> None:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "chicago_food_assets_tests", "-q", "-p", "no:cacheprovider"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    summary = (result.stdout.strip().splitlines() or ["no output"])[-1].strip("= ")
    record("`./run test`: the test suite", seconds, "< 15 min", seconds < 900 and result.returncode == 0, note=summary)


if __name__ == "__main__":
    main()
