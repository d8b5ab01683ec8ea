"""Benchmark: single-establishment lookups on one uvicorn worker, against a bare Litestar route, with wrk.

Needs scores in PostgreSQL (run ./run demo first). Database: CHICAGO_FOOD_POSTGRES_URL, else the embedded server
of ./run demo. Starts the API as the read-only role, and the bare app, each on one worker; drives both with
`wrk -t2 -c64` for `--seconds` each, cycling through real licenses. Prints requests/s, latency percentiles, errors.
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

from benchmarks.report import record
from chicago_food_assets import environment
from chicago_food_assets.launcher import reader_url
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
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            "licenses = {" + ",".join(map(str, licenses)) + "}\ni = 0\n"
            "request = function()\n  i = i + 1\n"
            "  return wrk.format('GET', '/v1/establishments/' .. licenses[(i % #licenses) + 1])\nend\n"
        )
    env = {**os.environ, "CHICAGO_FOOD_API_DATABASE_URL": reader}
    api_port, bare_port = free_port(), free_port()
    api = serve("service.api:create_app", api_port, env)
    bare = serve("benchmarks.bare_app:app", bare_port, env)
    try:
        wrk(f"http://127.0.0.1:{api_port}/health", 2, args.connections)  # warm up
        lookups = wrk(f"http://127.0.0.1:{api_port}", args.seconds, args.connections, script.name)
        ceiling = wrk(f"http://127.0.0.1:{bare_port}/bare", args.seconds, args.connections)
    finally:
        api.terminate()
        bare.terminate()
    print(f"{len(licenses)} licenses cycled; wrk -t2 -c{args.connections} -d{args.seconds}s; one uvicorn worker each")
    for name, result in (("establishment lookups", lookups), ("bare Litestar JSON route", ceiling)):
        print(
            f"{name:26} {result['rps']:8.0f} req/s  p50 {result['p50']:6.2f} ms  p90 {result['p90']:6.2f} ms  "
            f"p99 {result['p99']:6.2f} ms  errors {result['errors']}  non-2xx {result['non_2xx']}  "
            f"({result['requests']} requests)"
        )
    share = lookups["rps"] / ceiling["rps"]
    print(f"lookups / bare route: {share:.0%}  (targets: >= 3000 req/s, p99 < 20 ms, >= 40%, 0 errors)")
    for name, result, target, met in (
        (
            "API: establishment lookups (wrk -c64, 1 worker)",
            lookups,
            ">= 3,000 req/s, p99 < 20 ms",
            lookups["rps"] >= 3000 and lookups["p99"] < 20 and not lookups["errors"] and not lookups["non_2xx"],
        ),
        ("  the bare Litestar route, same run", ceiling, "-", None),
    ):
        note = f"{result['rps']:,.0f} req/s, p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms"
        if result is lookups:
            note += f", {share:.0%} of the bare route"
        record(name, args.seconds, target, met, result["requests"], note, peak=None)


if __name__ == "__main__":
    main()
