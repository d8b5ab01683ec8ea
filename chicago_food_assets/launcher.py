"""What `./run demo|ui|stop` do once the virtualenv exists: start the embedded parts, then Dagster.

Offline by default: unless SOCRATA_DOMAIN is set, the bundled real sample is replayed by a local SODA server.
"""

import argparse
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from chicago_food_assets.data import SAMPLE_PATH
from chicago_food_assets.embedded import start_embedded_postgres, state_dir, stop_embedded_postgres, with_database
from chicago_food_assets.partitions import week_of
from chicago_food_assets.replay import ReplayServer, read_rows


def prepare_environment(stack: ExitStack) -> dict[str, str]:
    """Environment for Dagster processes: instance storage in PostgreSQL, Socrata replayed unless configured."""
    env = dict(os.environ)
    env.setdefault("DAGSTER_HOME", str(Path(__file__).resolve().parent.parent))
    state = state_dir()
    env["CHICAGO_FOOD_STATE_DIR"] = str(state)
    env.setdefault("DAGSTER_ARTIFACTS_DIR", str(state / "dagster"))
    if not env.get("DAGSTER_POSTGRES_URL"):
        server = start_embedded_postgres(state / "postgres")
        env["DAGSTER_POSTGRES_URL"] = with_database(server, "dagster")
        print(f"embedded PostgreSQL: {with_database(server, 'chicago_food')}")
    if not env.get("SOCRATA_DOMAIN"):
        replay = stack.enter_context(ReplayServer(read_rows(SAMPLE_PATH)))
        env.update(SOCRATA_DOMAIN=replay.domain, SOCRATA_SCHEME="http")
        print(
            f"Socrata replay of the bundled sample ({len(replay.state.table.rows)} real rows) at http://{replay.domain}"
        )
    return env


def sample_weeks() -> tuple[str, str]:
    dates = sorted(row["inspection_date"][:10] for row in read_rows(SAMPLE_PATH))
    from datetime import date

    return tuple(str(week_of(date.fromisoformat(d))) for d in (dates[0], dates[-1]))  # type: ignore[return-value]


FEATURES = "raw_inspections,clean_inspections,inspection_violations,inspection_rejects,inspection_features"
MODELS = "trained_models,selected_model,fairness_audit,current_model"
SCORES = "inspection_scores,score_monitoring"
LOOKUPS = "establishment_risk"
TABLES = (
    "clean_inspections",
    "inspection_violations",
    "inspection_rejects",
    "inspection_features",
    "fairness_audit",
    "current_model",
    "inspection_scores",
    "score_monitoring",
    "establishment_risk",
)


def demo(first: str | None, last: str | None, quiet: bool = False) -> int:
    sample_first, sample_last = sample_weeks()
    first, last = first or sample_first, last or sample_last
    with ExitStack() as stack:
        env = prepare_environment(stack)
        print(f"weeks {first}...{last}: each weekly stage runs as one single-run backfill")
        output = subprocess.DEVNULL if quiet else None
        weeks = ["--partition-range", f"{first}...{last}"]
        for step, selection, partitions in (
            ("weekly features", FEATURES, weeks),
            ("training, selection, fairness audit", MODELS, []),
            ("weekly scores and monitoring", SCORES, weeks),
            ("latest risk per establishment", LOOKUPS, []),
        ):
            command = [
                sys.executable,
                "-m",
                "dagster",
                "asset",
                "materialize",
                "-m",
                "chicago_food_assets.definitions",
                "--select",
                selection,
                *partitions,
            ]
            code = subprocess.run(command, env=env, stdout=output, stderr=output).returncode
            if code:
                print(f"the {step} run failed (exit {code}); open it in the Dagster UI: ./run ui")
                return code
            print(f"  {step}: done")
        tables = table_counts()
    state = state_dir()
    objects = sorted((state / "objects" / "raw_inspections").glob("*.jsonl.gz"))
    print(
        f"\ndone: {len(objects)} weekly raw objects in {state / 'objects' / 'raw_inspections'}\n"
        + "".join(f"  food.{name}: {rows:,} rows\n" for name, rows in tables.items())
        + model_summary(state)
        + "tables: PostgreSQL schema `food`; run history and metadata: database `dagster`"
        + (f" (embedded server in {state / 'postgres'})\n" if not env.get("CHICAGO_FOOD_POSTGRES_URL") else "\n")
        + "open the Dagster UI on it: ./run ui   (then http://127.0.0.1:3000)\n"
        + "serve the score API: ./run api    (then http://127.0.0.1:8000/v1/models/current, docs at /schema)\n"
        + "open the monitoring dashboard: ./run dashboard   (then http://127.0.0.1:5006/dashboard)\n"
        "stop the embedded PostgreSQL: ./run stop"
    )
    return 0


def model_summary(state: Path) -> str:
    """One line about the selected model, read from its artifact (local object storage)."""
    import pickle

    path = state / "objects" / "selected_model.pkl"
    if not path.exists():
        return ""
    selected = pickle.loads(path.read_bytes())
    best = selected.metrics[selected.name]
    return (
        f"selected model {selected.version}: holdout {selected.cutoff}..{selected.end} ROC AUC {best['roc_auc']:.3f}, "
        f"fails found {best['days_earlier']:.1f} days earlier (baseline previous result: "
        f"AUC {selected.metrics['baseline_previous_result']['roc_auc']:.3f})\n"
    )


def table_counts() -> dict[str, int]:
    import psycopg2

    with psycopg2.connect(admin_url()) as connection, connection.cursor() as cursor:
        counts = {}
        for name in TABLES:
            cursor.execute(f"SELECT count(*) FROM food.{name}")
            counts[name] = cursor.fetchone()[0]
    return counts


def _run(command: list[str], env: dict[str, str], cwd: str | None = None) -> int:
    """A long-running server in the foreground; Ctrl-C stops it cleanly."""
    try:
        return subprocess.run(command, env=env, cwd=cwd).returncode
    except KeyboardInterrupt:
        return 0


def ui(host: str, port: int) -> int:
    with ExitStack() as stack:
        env = prepare_environment(stack)
        print(f"Dagster UI: http://{host}:{port}")
        command = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", host, "-p", str(port)]
        return _run(command, env, cwd=env["DAGSTER_HOME"])


def admin_url() -> str:
    """The pipeline's database: CHICAGO_FOOD_POSTGRES_URL, else the embedded server's `chicago_food`."""
    return os.environ.get("CHICAGO_FOOD_POSTGRES_URL") or with_database(
        start_embedded_postgres(state_dir() / "postgres"), "chicago_food"
    )


def reader_url(variable: str) -> str:
    """The read-only role's URL: `variable` when set, else the role created (or updated) on the pipeline's database."""
    from service.db import ensure_reader

    return os.environ.get(variable) or ensure_reader(admin_url(), os.environ.get("CHICAGO_FOOD_READER_PASSWORD"))


def dashboard_command(host: str, port: int) -> list[str]:
    app = Path(__file__).resolve().parent.parent / "service" / "dashboard.py"
    return [
        sys.executable,
        "-m",
        "panel",
        "serve",
        str(app),
        "--address",
        host,
        "--port",
        str(port),
        f"--allow-websocket-origin={host}:{port}",
    ]


def api(host: str, port: int) -> int:
    """Serve the score API as the read-only role."""
    reader = reader_url("CHICAGO_FOOD_API_DATABASE_URL")
    env = {
        **os.environ,
        "CHICAGO_FOOD_API_DATABASE_URL": reader,
        "CHICAGO_FOOD_API_HOST": host,
        "CHICAGO_FOOD_API_PORT": str(port),
    }
    print(f"score API: http://{host}:{port}  (OpenAPI: http://{host}:{port}/schema)")
    return _run([sys.executable, "-m", "service"], env)


def dashboard(host: str, port: int) -> int:
    """Serve the Panel monitoring dashboard as the read-only role."""
    env = {**os.environ, "CHICAGO_FOOD_DASHBOARD_DATABASE_URL": reader_url("CHICAGO_FOOD_DASHBOARD_DATABASE_URL")}
    print(f"dashboard: http://{host}:{port}/dashboard")
    return _run(dashboard_command(host, port), env)


def main() -> int:
    parser = argparse.ArgumentParser(prog="./run")
    commands = parser.add_subparsers(dest="command", required=True)
    run_demo = commands.add_parser("demo", help="the weekly pipeline over the bundled sample, in one run")
    run_demo.add_argument("--first", help="first week (a Monday, YYYY-MM-DD); default: the sample's first")
    run_demo.add_argument("--last", help="last week; default: the sample's last")
    run_demo.add_argument("--quiet", action="store_true", help="hide Dagster's run logs")
    run_ui = commands.add_parser("ui", help="start the Dagster UI")
    run_ui.add_argument("--host", default="127.0.0.1")
    run_ui.add_argument("--port", type=int, default=3000)
    run_api = commands.add_parser("api", help="serve the score API (read-only role)")
    run_api.add_argument("--host", default=os.environ.get("CHICAGO_FOOD_API_HOST", "127.0.0.1"))
    run_api.add_argument("--port", type=int, default=int(os.environ.get("CHICAGO_FOOD_API_PORT", "8000")))
    run_dashboard = commands.add_parser("dashboard", help="serve the monitoring dashboard (read-only role)")
    run_dashboard.add_argument("--host", default="127.0.0.1")
    run_dashboard.add_argument("--port", type=int, default=5006)
    commands.add_parser("stop", help="stop the embedded PostgreSQL")
    args = parser.parse_args()
    if args.command == "demo":
        return demo(args.first, args.last, args.quiet)
    if args.command == "ui":
        return ui(args.host, args.port)
    if args.command == "api":
        return api(args.host, args.port)
    if args.command == "dashboard":
        return dashboard(args.host, args.port)
    stopped = stop_embedded_postgres(state_dir() / "postgres")
    print("embedded PostgreSQL stopped" if stopped else "no embedded PostgreSQL was running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
