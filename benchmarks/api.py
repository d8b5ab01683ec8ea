"""Benchmark: single-establishment lookups on one uvicorn worker, against a bare Litestar route, with wrk.

Needs scores in PostgreSQL (run ./run demo first). Database: CHICAGO_FOOD_POSTGRES_URL, else the embedded server
of ./run demo. Starts the API as the read-only role (once with its response cache, once without), and the bare app,
each on one worker; drives each with `wrk -t2 -c64` for `--seconds`, cycling through real licenses: cached lookups,
uncached lookups, 304 revalidations (If-None-Match with the current ETag) and the bare route, in one run.
Prints requests/s, latency percentiles, errors.
    python -m benchmarks.api [--seconds 20] [--connections 64]
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
import requests

from benchmarks.report import record
from chicago_food_assets.local import environment
from chicago_food_assets.local.launcher import reader_url
from chicago_food_assets_tests.helpers import free_port


def serve(app: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--factory" if app.endswith("create_app") else "--no-access-log",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-access-log",
        "--no-proxy-headers",
    ]
    process = subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parent.parent)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{app} did not start")


def wrk(url: str, seconds: int, connections: int, script: str | None = None) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *(["-s", script] if script else []), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def latency(label: str) -> float:
        value, scale = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * unit[scale]

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency("50%"),
        "p90": latency("90%"),
        "p99": latency("99%"),
        "errors": sum(map(int, errors.groups())) if errors else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    admin = environment.environment(quiet=True)["CHICAGO_FOOD_POSTGRES_URL"]
    reader = reader_url("CHICAGO_FOOD_API_DATABASE_URL")
    with psycopg2.connect(admin) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT license FROM food.establishment_risk WHERE license > 0 ORDER BY license LIMIT 2000")
        licenses = [row[0] for row in cursor.fetchall()]
    env = {**os.environ, "CHICAGO_FOOD_API_DATABASE_URL": reader, "CHICAGO_FOOD_API_RATE_LIMIT": "off"}
    ports = {name: free_port() for name in ("cached", "uncached", "bare")}
    servers = [
        serve("service.api.app:create_app", ports["cached"], env),
        serve("service.api.app:create_app", ports["uncached"], {**env, "CHICAGO_FOOD_API_CACHE": "off"}),
        serve("benchmarks.bare_app:app", ports["bare"], env),
    ]
    etag = requests.get(f"http://127.0.0.1:{ports['cached']}/v1/models/current", timeout=10).headers["ETag"]
    try:
        results = {}
        for name, port, header in (
            ("cached", ports["cached"], None),
            ("uncached", ports["uncached"], None),
            ("revalidated", ports["cached"], etag),
        ):
            script = lookups_script(licenses, header)
            wrk(f"http://127.0.0.1:{port}", 3, args.connections, script)  # warm up (fills the cache)
            results[name] = wrk(f"http://127.0.0.1:{port}", args.seconds, args.connections, script)
        results["bare"] = wrk(f"http://127.0.0.1:{ports['bare']}/bare", args.seconds, args.connections)
    finally:
        for server in servers:
            server.terminate()
    print(f"{len(licenses)} licenses cycled; wrk -t2 -c{args.connections} -d{args.seconds}s; one uvicorn worker each")
    for name, result in results.items():
        print(
            f"{name:12} {result['rps']:8.0f} req/s  p50 {result['p50']:6.2f} ms  p90 {result['p90']:6.2f} ms  "
            f"p99 {result['p99']:6.2f} ms  errors {result['errors']}  non-2xx {result['non_2xx']}  "
            f"({result['requests']} requests)"
        )
    bare = results["bare"]["rps"]

    def clean(result: dict) -> bool:
        return not result["errors"] and not result["non_2xx"]

    cached, uncached, revalidated = results["cached"], results["uncached"], results["revalidated"]
    for name, result, target, met in (
        (
            "API: cached lookups (wrk -c64, 1 worker)",
            cached,
            ">= 70% of the bare route, p99 < 20 ms",
            cached["rps"] >= 0.7 * bare and cached["p99"] < 20 and clean(cached),
        ),
        (
            "  uncached lookups (every one a query)",
            uncached,
            ">= 2,133 req/s (before caching)",
            uncached["rps"] >= 2133 and clean(uncached),
        ),
        (
            "  304 revalidations (If-None-Match)",
            revalidated,
            "p99 < 20 ms",
            revalidated["p99"] < 20 and clean(revalidated),
        ),
        ("  the bare Litestar route, same run", results["bare"], "-", None),
    ):
        note = f"{result['rps']:,.0f} req/s, p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms"
        if result is not results["bare"]:
            note += f", {result['rps'] / bare:.0%} of the bare route"
        record(name, args.seconds, target, met, result["requests"], note, peak=None)


def lookups_script(licenses: list[int], if_none_match: str | None) -> str:
    """A wrk script cycling through `licenses`, optionally revalidating with an ETag."""
    header = "" if if_none_match is None else ", {['If-None-Match'] = '" + if_none_match.replace("'", "\\'") + "'}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            "licenses = {" + ",".join(map(str, licenses)) + "}\ni = 0\n"
            "request = function()\n  i = i + 1\n"
            f"  return wrk.format('GET', '/v1/establishments/' .. licenses[(i % #licenses) + 1]{header})\nend\n"
        )
    return script.name


if __name__ == "__main__":
    main()
