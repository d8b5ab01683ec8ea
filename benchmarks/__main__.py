"""`./run bench`: every benchmark, then one table (markdown, for the README) and where the full-scale run's time went.

    ./run bench [--rows N] [--skip NAME ...]     names: install fullscale features training api dashboard suite
Each benchmark runs in a process of its own (its peak memory is its own); the API and dashboard benchmarks run on
the state folder the full-scale benchmark built from the bundled sample. Benchmarks are not tests: nothing fails on
a slow machine; the table says which targets were met.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from benchmarks.report import markdown, read

ORDER = ("install", "fullscale", "features", "training", "api", "dashboard", "suite")


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {memory:.0f} GB, Python {platform.python_version()}, {date.today()}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="./run bench")
    parser.add_argument("--rows", type=int, default=300_000, help="rows of the generated feed (default 300,000)")
    parser.add_argument("--skip", nargs="*", default=[], choices=ORDER, help="benchmarks to leave out")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    results = folder / "results.jsonl"
    env = {**os.environ, "BENCH_RESULTS": str(results)}
    for name in ORDER:
        if name in args.skip:
            continue
        command = [sys.executable, "-m", f"benchmarks.{name}"]
        if name == "fullscale":
            command += ["--rows", str(args.rows), "--keep", str(folder)]
        if name in ("api", "dashboard"):  # on what the demo built from the bundled sample
            env_of_state = {**env, "CHICAGO_FOOD_STATE_DIR": str(folder / "sample")}
            if not (folder / "sample").exists():
                print(f"{name}: skipped (it runs on the full-scale benchmark's sample state)", file=sys.stderr)
                continue
        else:
            env_of_state = env
        print(f"\n=== {name}", flush=True)
        if subprocess.run(command, env=env_of_state).returncode:
            print(f"{name} failed; the table shows the others", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "chicago_food_assets.launcher", "stop"],
        env={**env, "CHICAGO_FOOD_STATE_DIR": str(folder / "sample")},
        capture_output=True,
    )
    print(f"\n## Benchmarks ({machine()})\n")
    print(markdown(read(str(results))) if results.exists() else "(no results)")
    if (folder / "breakdown.json").exists():
        print("\nWhere the full-scale run's time went (seconds; from Dagster's event log):\n")
        print("| stage | wall | steps' own code | IO managers | Dagster events and checks | outside the steps |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for part in json.loads((folder / "breakdown.json").read_text()):
            cells = [f"{part[k]:.0f}" for k in ("wall", "code", "io", "events", "outside")]
            print(f"| {part['stage']} | " + " | ".join(cells) + " |")
    print(f"\n(state folders, feed and raw results in {folder})")


if __name__ == "__main__":
    main()
