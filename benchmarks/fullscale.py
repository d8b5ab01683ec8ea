"""The two commands and the full-scale run, as a user runs them, each in a fresh state folder.

1. the generator writes a 300,000-row feed;
2. `./run demo` on the bundled sample;
3. `./run demo --data FEED` on the generated feed, all weeks but the last complete one: every weekly asset,
   training, scores, monitoring, the visit lists (the holdout weeks' and the next week's) and lookups through
   Dagster with PostgreSQL run storage; then, from Dagster's own
   event log, where each stage's time went: the steps' code, the IO managers, Dagster's events and checks, and
   the time outside the steps (process start, imports, planning, run start and end);
4. one new week: the last week's rows are published to the replay server, then the Socrata sensor ticks, the run
   it asks for refreshes that week (raw to monitoring) and the lookups follow, each run a `dagster job execute`
   process as the daemon would launch.
    python -m benchmarks.fullscale [--rows N] [--keep DIR]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from benchmarks.report import record
from chicago_food_assets.local.demo import data_weeks

# the full-scale rows of the table, as `./run docs` finds them again (its projection scales them)
FULL_RUN = "`./run demo --data` generated feed"  # then ", FIRST..LAST": the weeks it ran
FIRST_STAGE = "  raw to features (its first stage)"

STAGE_LINE = re.compile(r"^\s+(?P<stage>\S.*?)\s+\[#+\] \d+/\d+ steps, .*?,\s+(?P<seconds>[\d.]+) s")
TARGETS = {
    "end to end": 300.0,
    "raw to features": 90.0,
    "new week": 30.0,
    "peak": 2048.0,
    "list code": 15.0,
    "list run": 30.0,
}


def measured(command: list[str], env: dict[str, str], folder: Path, name: str) -> tuple[dict, str]:
    """Runs `command` under benchmarks.measure; returns its numbers and its output."""
    out = folder / f"{name}.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.measure", str(out), "--", *command],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise SystemExit(f"{name} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(out.read_text()), result.stdout


def launcher(*args: str) -> list[str]:
    return [sys.executable, "-m", "chicago_food_assets.local.launcher", *args]


def stage_seconds(output: str) -> list[tuple[str, float]]:
    return [(m["stage"], float(m["seconds"])) for m in map(STAGE_LINE.match, output.splitlines()) if m]


def breakdown(instance, stages: list[tuple[str, float]]) -> list[dict]:
    """Per stage (one run each, oldest first): wall, the steps' own code, IO managers, Dagster's events and checks,
    and the time outside every step, from the timestamps of the run's events."""
    records = sorted(instance.get_run_records(), key=lambda r: r.create_timestamp)[-len(stages) :]
    table = []
    for (stage, wall), record_ in zip(stages, records, strict=True):
        steps = load = write = events = 0.0
        start = previous = output = materialized = None
        for entry in instance.all_logs(record_.dagster_run.run_id):
            kind, ts = entry.dagster_event_type, entry.timestamp
            name = kind.value if kind is not None else ""
            if name == "STEP_START":
                start = previous = ts
            elif name == "LOADED_INPUT":
                load += ts - previous
            elif name == "STEP_OUTPUT":
                output, materialized = ts, None
            elif name == "ASSET_MATERIALIZATION" and output is not None and materialized is None:
                write += ts - output
                materialized = ts
            elif name == "HANDLED_OUTPUT" and output is not None:
                if materialized is None:
                    write += ts - output
                else:
                    events += ts - materialized
                output = None
            elif name == "STEP_SUCCESS" and start is not None:
                steps += ts - start
            if kind is not None:
                previous = ts
        code = steps - load - write - events
        table.append(
            {
                "stage": stage,
                "wall": wall,
                "code": code,
                "io": load + write,
                "events": events,
                "outside": wall - steps,
            }
        )
    return table


def one_list(env: dict[str, str], folder: Path, week: date) -> tuple[float, float, int]:
    """The list of `week` (the week after the data the demo built on) alone, as one process: its wall seconds, its
    step's own code (from the run's events) and the places listed."""
    import psycopg2
    from dagster import DagsterInstance

    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "chicago_food_assets.definitions"]
    numbers, _ = measured([*command, "--select", "visit_list", "--partition", str(week)], env, folder, "one-list")
    with DagsterInstance.get() as instance:
        [part] = breakdown(instance, [("one list", numbers["seconds"])])
    with psycopg2.connect(env["CHICAGO_FOOD_POSTGRES_URL"]) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM food.visit_list WHERE week = %s", (week,))
        listed = int(cursor.fetchone()[0])
    return numbers["seconds"], part["code"], listed


def publish_week(domain: str, feed: Path, week: date) -> int:
    """Re-publishes the feed's rows of `week` (they get a new `:updated_at`, as new rows on the portal would)."""
    import gzip
    import urllib.request

    opener = gzip.open if feed.suffix == ".gz" else open
    end = week + timedelta(days=7)
    with opener(feed, "rt") as handle:
        rows = [row for row in map(json.loads, handle) if str(week) <= row.get("inspection_date", "")[:10] < str(end)]
    request = urllib.request.Request(
        f"http://{domain}/__replay/rows", json.dumps(rows).encode(), {"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=60).read()
    return len(rows)


def new_week(env: dict[str, str], feed: Path, week: date, folder: Path) -> tuple[float, int, int]:
    """Sensor tick to fresh scores and lookups for `week`; returns seconds, rows published, runs launched."""
    os.environ.update(env)
    from dagster import DagsterInstance, build_sensor_context

    from chicago_food_assets import deployment
    from chicago_food_assets.definitions import defs

    instance = DagsterInstance.get()
    sensor = defs.get_sensor_def("socrata_changes")
    resources = {k: v for k, v in deployment.resources().items() if k in ("socrata", "postgres")}

    def tick(cursor: str | None):
        with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
            return sensor(context)

    cursor = tick(None).cursor  # the first tick only sets the cursor
    rows = publish_week(env["SOCRATA_DOMAIN"], feed, week)
    start = time.perf_counter()
    result = tick(cursor)
    requests = result.run_requests or []
    dagster = [sys.executable, "-m", "dagster", "job", "execute", "-m", "chicago_food_assets.definitions"]
    for number, request in enumerate(requests):
        measured([*dagster, "-j", "weekly", "--tags", json.dumps(request.tags)], env, folder, f"week-{number}")
    # what the daemon's follow_ups sensor then runs for the lookups (automation/conditions.py)
    materialize = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "chicago_food_assets.definitions"]
    measured([*materialize, "--select", "establishment_risk"], env, folder, "lookups")
    return time.perf_counter() - start, rows, len(requests)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--keep", type=Path, help="state folders and feed here instead of a temporary folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "CHICAGO_FOOD_", "SOCRATA_"))}

    feed = folder / "feed.jsonl.gz"
    numbers, output = measured(
        [sys.executable, "-m", "chicago_food_assets.local.generate", "--rows", str(args.rows), "--out", str(feed)],
        base,
        folder,
        "generate",
    )
    generated = json.loads(output.split(": ", 1)[1])
    record("generate the feed", numbers["seconds"], "-", None, generated["rows"], peak=numbers["peak_mb"])

    sample_state = {**base, "CHICAGO_FOOD_STATE_DIR": str(folder / "sample")}
    numbers, output = measured(launcher("demo"), sample_state, folder, "demo-sample")
    stages = "; ".join(f"{name} {seconds:.0f} s" for name, seconds in stage_seconds(output))
    seconds = numbers["seconds"]
    record("`./run demo`, bundled sample", seconds, "< 3 min", seconds < 180, 45_391, stages, numbers["peak_mb"])

    first, last = data_weeks(feed)
    held_back = date.fromisoformat(last)
    before = str(held_back - timedelta(days=7))
    full_state = {**base, "CHICAGO_FOOD_STATE_DIR": str(folder / "full")}
    numbers, output = measured(
        launcher("demo", "--data", str(feed), "--first", first, "--last", before), full_state, folder, "demo-full"
    )
    stages = stage_seconds(output)
    seconds = numbers["seconds"]
    record(
        f"{FULL_RUN}, {first}..{before}",
        seconds,
        "< 5 min, < 2 GB",
        seconds < TARGETS["end to end"] and numbers["peak_mb"] < TARGETS["peak"],
        generated["rows"],
        peak=numbers["peak_mb"],
    )
    weekly = stages[0][1]
    met = weekly < TARGETS["raw to features"]
    record(FIRST_STAGE, weekly, "< 90 s", met, generated["rows"], peak=numbers["peak_mb"])

    from chicago_food_assets.local import environment

    os.environ.update(full_state)  # the full-scale state folder's servers, already running
    env = environment.environment(quiet=True)
    os.environ.update(env)
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        parts = breakdown(instance, stages)
    print("\nwhere the full-scale run's time went (seconds):")
    print("| stage | wall | steps' own code | IO managers | Dagster events and checks | outside the steps |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for part in parts:
        print(
            f"| {part['stage']} | {part['wall']:.0f} | {part['code']:.0f} | {part['io']:.0f} | {part['events']:.0f} "
            f"| {part['outside']:.0f} |"
        )
    (folder / "breakdown.json").write_text(json.dumps(parts, indent=1))
    seconds, code, listed = one_list(env, folder, held_back)
    record(
        f"one week's visit list ({held_back}, every due place of the feed's city): one run",
        seconds,
        "< 30 s; its step's code < 15 s",
        seconds < TARGETS["list run"] and code < TARGETS["list code"],
        listed,
        f"the step's own code {code:.1f} s; a `dagster asset materialize` process",
    )

    seconds, rows, runs = new_week(env, feed, held_back, folder)
    peak = max(
        json.loads(path.read_text())["peak_mb"] for path in [*folder.glob("week-*.json"), folder / "lookups.json"]
    )
    record(
        f"one new week ({held_back}): sensor tick to fresh scores and lookups",
        seconds,
        "< 30 s",
        seconds < TARGETS["new week"],
        rows,
        f"{runs} weekly run + lookups, each a process",
        peak,
    )
    for state in ("sample", "full"):
        subprocess.run(launcher("stop"), env={**base, "CHICAGO_FOOD_STATE_DIR": str(folder / state)}, check=False)


if __name__ == "__main__":
    main()
