"""`./run bench`: every benchmark, then one table (saved for ./run docs) and where the full-scale run's time went.

    ./run bench [--rows N] [--skip NAME ...]     names: install fullscale features training plans api dashboard suite
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
from dataclasses import asdict
from datetime import date
from pathlib import Path

from benchmarks.report import Row, markdown, read

RESULT = Path(__file__).resolve().parent.parent / "docs" / "results" / "benchmarks.json"
ORDER = ("install", "fullscale", "features", "training", "plans", "api", "dashboard", "suite")


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
        [sys.executable, "-m", "chicago_food_assets.local.launcher", "stop"],
        env={**env, "CHICAGO_FOOD_STATE_DIR": str(folder / "sample")},
        capture_output=True,
    )
    measured = {
        "machine": machine(),
        "skipped": sorted(args.skip),
        "rows": [asdict(row) for row in read(str(results))] if results.exists() else [],
        "breakdown": json.loads((folder / "breakdown.json").read_text())
        if (folder / "breakdown.json").exists()
        else [],
    }
    print(f"\n## Benchmarks ({measured['machine']})\n")
    print(tables(measured))
    if measured["rows"] and "fullscale" not in args.skip:  # what ./run docs writes into docs/performance.md
        RESULT.parent.mkdir(exist_ok=True)
        RESULT.write_text(json.dumps(measured, indent=1) + "\n")
        print(f"\n(saved to {RESULT}; ./run docs writes it into docs/performance.md)")
    print(f"\n(state folders, feed and raw results in {folder})")


def tables(measured: dict) -> str:
    """The benchmark table and where the full-scale run's time went, as markdown."""
    text = f"Measured on {measured['machine']}"
    text += f" (not run: {', '.join(measured['skipped'])})." if measured.get("skipped") else "."
    text += "\n\n" + (markdown([Row(**row) for row in measured["rows"]]) if measured["rows"] else "(no results)")
    if measured["breakdown"]:
        text += (
            "\n\nWhere the full-scale run's time went (seconds; from Dagster's event log):\n\n"
            "| stage | wall | steps' own code | IO managers | Dagster events and checks | outside the steps |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: |\n"
        )
        for part in measured["breakdown"]:
            cells = [f"{part[k]:.0f}" for k in ("wall", "code", "io", "events", "outside")]
            text += f"| {part['stage']} | " + " | ".join(cells) + " |\n"
    return text


if __name__ == "__main__":
    main()
