"""Run a command and report its wall time and the peak memory of its process tree (the processes it waited for).

    python -m benchmarks.measure OUT.json -- COMMAND ARGS...
The command's output passes through; OUT.json gets {"seconds", "peak_mb", "returncode"}.
"""

import json
import resource
import subprocess
import sys
import time


def main() -> None:
    out, separator, *command = sys.argv[1:]
    assert separator == "--", __doc__
    start = time.perf_counter()
    code = subprocess.run(command).returncode
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    with open(out, "w") as handle:
        json.dump({"seconds": seconds, "peak_mb": round(peak), "returncode": code}, handle)
    sys.exit(code)


if __name__ == "__main__":
    main()
