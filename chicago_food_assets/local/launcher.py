"""What `./run demo|ui|api|dashboard|status|dagster|shell|env|stop` do once the virtualenv exists.

Every command runs in `environment.environment()`: the same state folder, embedded PostgreSQL and replay server.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

from chicago_food_assets.local import environment, servers
from chicago_food_assets.local.environment import PROJECT

WORKSPACE = PROJECT / "workspace.yaml"


def _foreground(command: list[str], env: dict[str, str], cwd: Path | None = None) -> int:
    """An interactive command (the shell) in the foreground; Ctrl-C stops it cleanly."""
    try:
        return subprocess.run(command, env=env, cwd=cwd).returncode
    except KeyboardInterrupt:
        return 0


def ui(host: str, port: int) -> int:
    env = environment.environment()
    print(f"Dagster UI: http://{host}:{port}")
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(WORKSPACE), "-h", host, "-p", str(port)]
    return servers.run("ui", command, env, cwd=PROJECT)


def reader_url(variable: str) -> str:
    """The read-only role's URL: `variable` when set, else the role created (or updated) on the pipeline's database."""
    from service.db import ensure_reader

    if os.environ.get(variable):
        return os.environ[variable]
    admin = environment.environment(quiet=True, replay=False)["CHICAGO_FOOD_POSTGRES_URL"]
    return ensure_reader(admin, os.environ.get("CHICAGO_FOOD_READER_PASSWORD"))


def _state(env: dict[str, str]) -> dict[str, str]:
    """The state folder a read-only server belongs to (`./run stop` stops it)."""
    from chicago_food_assets.data import state_dir

    return {"CHICAGO_FOOD_STATE_DIR": env.get("CHICAGO_FOOD_STATE_DIR") or str(state_dir())}


def dashboard_command(host: str, port: int) -> list[str]:
    apps = [PROJECT / "service" / "dashboard" / page for page in ("dashboard.py", "visit_list.py", "plan.py")]
    return [
        sys.executable,
        "-m",
        "panel",
        "serve",
        *map(str, apps),
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
    return servers.run("api", [sys.executable, "-m", "service"], {**env, **_state(env)})


def dashboard(host: str, port: int) -> int:
    """Serve the Panel monitoring dashboard as the read-only role."""
    env = {**os.environ, "CHICAGO_FOOD_DASHBOARD_DATABASE_URL": reader_url("CHICAGO_FOOD_DASHBOARD_DATABASE_URL")}
    print(
        f"dashboard: http://{host}:{port}/dashboard  (this week's visit list: http://{host}:{port}/visit_list,"
        f" its plan: http://{host}:{port}/plan)"
    )
    return servers.run("dashboard", dashboard_command(host, port), {**env, **_state(env)})


def refused_partitions(arguments: list[str]) -> str | None:
    """Why a `dagster asset materialize --select ... --partition[-range] ...` names weeks the selected assets do not
    have (None when they have them, or for another command): Dagster answers a bare DagsterInvalidSubsetError."""
    if arguments[:2] != ["asset", "materialize"]:
        return None
    values = dict(zip(arguments, [*arguments[1:], ""], strict=False))
    selection = values.get("--select", "")
    keys = values.get("--partition", "") or values.get("--partition-range", "")
    if not keys or not selection:
        return None
    from chicago_food_assets.assets.partitions import weekly, why_not

    weeks = [week.strip() for week in keys.split("...")]
    # every partitioned asset has the weeks of `weekly` (the lists' and plans' `upcoming` adds the week under way):
    # a command within them cannot be refused, and pays no second load of the definitions (half a second)
    if all(why_not(week, weekly, "") is None for week in weeks):
        return None
    from chicago_food_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    reasons = []
    for name in (n.strip() for n in selection.split(",")):
        key = next((k for k in graph.get_all_asset_keys() if k.to_user_string() == name), None)
        partitions = graph.get(key).partitions_def if key is not None else None
        if partitions is None:
            continue
        for week in weeks:
            reason = why_not(week, partitions, name)  # type: ignore[arg-type]
            if reason:
                reasons.append(reason)
    return "; ".join(dict.fromkeys(reasons)) or None


def main() -> int:
    parser = argparse.ArgumentParser(prog="./run")
    commands = parser.add_subparsers(dest="command", required=True)
    run_demo = commands.add_parser("demo", help="the whole pipeline over a Socrata-shaped file, offline")
    run_demo.add_argument("--data", help="JSON-lines file of Socrata rows (.gz or not); default: the bundled sample")
    run_demo.add_argument("--first", help="first week (a Monday, YYYY-MM-DD); default: the data's first")
    run_demo.add_argument("--last", help="last week; default: the data's last")
    run_demo.add_argument("--train-config", help="YAML run config for the training assets (see docs/model.md)")
    run_demo.add_argument("--verbose", action="store_true", help="print Dagster's full log instead of progress")
    run_ui = commands.add_parser("ui", help="start the Dagster UI")
    run_ui.add_argument("--host", default="127.0.0.1")
    run_ui.add_argument("--port", type=int, default=3000)
    run_api = commands.add_parser("api", help="serve the score API (read-only role)")
    run_api.add_argument("--host", default=os.environ.get("CHICAGO_FOOD_API_HOST", "127.0.0.1"))
    run_api.add_argument("--port", type=int, default=int(os.environ.get("CHICAGO_FOOD_API_PORT", "8000")))
    run_dashboard = commands.add_parser("dashboard", help="serve the monitoring dashboard (read-only role)")
    run_dashboard.add_argument("--host", default="127.0.0.1")
    run_dashboard.add_argument("--port", type=int, default=5006)
    commands.add_parser("status", help="the platform's health; exit code 1 when something needs attention")
    run_dagster = commands.add_parser("dagster", help="a dagster command in the project's environment")
    run_dagster.add_argument("arguments", nargs=argparse.REMAINDER)
    commands.add_parser("shell", help="a shell in the project's environment")
    commands.add_parser("env", help='print the environment as `export` lines: eval "$(./run env)"')
    commands.add_parser("stop", help="stop what the state folder started: servers, replay server, PostgreSQL")
    run_docs = commands.add_parser("docs", help="write the measured results into docs/ (after ./run demo and bench)")
    run_docs.add_argument("--out", help="where the pages go (default: docs/ itself)")
    args = parser.parse_args()
    if args.command == "demo":
        from chicago_food_assets.local.demo import demo

        return demo(args.data, args.first, args.last, args.train_config, args.verbose)
    if args.command == "ui":
        return ui(args.host, args.port)
    if args.command == "api":
        return api(args.host, args.port)
    if args.command == "dashboard":
        return dashboard(args.host, args.port)
    if args.command == "status":
        env = environment.environment(quiet=True, replay=False)
        return subprocess.run(
            [sys.executable, "-m", "chicago_food_assets.operations.status"], env=env, cwd=PROJECT
        ).returncode
    if args.command == "dagster":
        refused = refused_partitions(args.arguments)
        if refused:
            print(f"./run dagster: {refused}", file=sys.stderr)
            return 2
        env = environment.environment(quiet=True)
        return servers.run("dagster", [sys.executable, "-m", "dagster", *args.arguments], env, cwd=PROJECT)
    if args.command == "shell":
        env = environment.environment()
        print("a shell in the project's environment; `exit` leaves it", file=sys.stderr)
        return _foreground([os.environ.get("SHELL", "/bin/bash")], env)
    if args.command == "docs":
        env = environment.environment(quiet=True, replay=False)
        command = [sys.executable, "-m", "benchmarks.docs", *(["--out", args.out] if args.out else [])]
        return subprocess.run(command, env=env, cwd=PROJECT).returncode
    if args.command == "env":
        print(environment.exports(environment.environment(quiet=True)))
        return 0
    from chicago_food_assets.data import state_dir

    stopped = environment.stop(Path(os.environ.get("CHICAGO_FOOD_STATE_DIR") or state_dir()).resolve())
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
