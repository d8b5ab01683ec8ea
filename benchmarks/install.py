"""The install as `./run` does it (uv, from uv.lock), into a new virtualenv with an empty uv cache: every package
is fetched from the registry, as on a fresh machine.
    python -m benchmarks.install
"""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.report import record

PROJECT = Path(__file__).resolve().parent.parent


def uv() -> str:
    return shutil.which("uv") or str(PROJECT / ".tools" / "bin" / "uv")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "UV_PROJECT_ENVIRONMENT": f"{folder}/venv", "UV_CACHE_DIR": f"{folder}/cache"}
        start = time.perf_counter()
        subprocess.run(
            [uv(), "sync", "--locked", "--extra", "dev", "--python", "3.11", "-q"], cwd=PROJECT, env=env, check=True
        )
        seconds = time.perf_counter() - start
        packages = len(list(Path(folder, "venv").glob("lib/python3.11/site-packages/*.dist-info")))
    record(
        "install (`./run setup`: uv from uv.lock, empty cache)",
        seconds,
        "< 60 s",
        seconds < 60,
        note=f"{packages} packages",
    )


if __name__ == "__main__":
    main()
