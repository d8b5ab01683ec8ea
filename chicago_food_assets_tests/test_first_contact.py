"""A new user's first hour: every command the README shows, pasted into a shell on a fresh state folder.

The commands are read from the README's ```bash blocks, so a README edit that breaks one fails here. `./run demo` runs
once per session (conftest's `demo`); this file starts the servers (`./run ui|api|dashboard`) on a copy of its state
folder, asks each a question and stops them, test_readme_commands.py runs the other blocks on another copy at the same
time, test_readme_elsewhere.py the blocks with state folders of their own. The only edits to a pasted line: `./run
test` is not run (it is this suite) and the examples' `.state-NAME` folders become temporary ones.
"""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from chicago_food_assets.definitions import defs
from chicago_food_assets.local.environment import PROJECT
from chicago_food_assets_tests.helpers import Demo, bash, copy_demo, processes_of, scaled, user_environment

SERVERS = {  # command -> (port, path that answers 200 once it is up)
    "./run ui": (3000, "/server_info"),
    "./run api": (8000, "/health"),
    "./run dashboard": (5006, "/dashboard"),
}


def readme_blocks() -> list[list[str]]:
    """The bash blocks of the README, then of docs/, as lists of commands (comments, continuation comments and blank
    lines dropped)."""
    pages = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
    text = "\n".join(page.read_text() for page in pages)
    blocks = []
    for body in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        commands = []
        for line in body.splitlines():
            if not line.strip() or line.startswith((" ", "#")):
                continue
            commands.append(re.sub(r"\s+#\s.*$", "", line).strip())
        blocks.append(commands)
    return blocks


def elsewhere(block: list[str]) -> bool:
    """A block that works in a state folder of its own (`.state-NAME`): independent of the demo's."""
    return any(".state-" in command for command in block)


def run_block(block: list[str], state: Path, env: dict[str, str]) -> None:
    """A README block as pasted, its `.state-NAME` folders beside the test's state folder."""
    script = "\n".join(re.sub(r"\.state-([\w-]+)", rf"{state.parent}/\1", command) for command in block)
    # ./run docs writes into the repository's docs/: here into a folder of the test's, then looked at
    script = script.replace("./run docs", f"./run docs --out {state.parent}/docs")
    done = bash(script, env)
    assert done.returncode == 0, f"{script}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def serve(command: str, env: dict[str, str]) -> subprocess.Popen:
    port, path = SERVERS[command]
    log = Path(env["CHICAGO_FOOD_STATE_DIR"]).parent / f"{command.split()[-1]}.log"  # a file: a pipe could fill up
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        start_new_session=True,
    )
    deadline = time.monotonic() + scaled(120)
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if requests.get(f"http://127.0.0.1:{port}{path}", timeout=10).status_code == 200:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.3)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError(f"{command} did not answer on port {port}")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code < 500
    except requests.RequestException:
        return False


def graphql(query: str) -> dict:
    answer = requests.post("http://127.0.0.1:3000/graphql", json={"query": query}, timeout=60).json()
    assert "errors" not in answer, answer
    return answer["data"]


def on_the_demos_state(block: list[str]) -> bool:
    """A block test_readme_commands.py runs on a copy of the demo's state folder: not the two commands, no server."""
    return not elsewhere(block) and not any(command in SERVERS for command in block) and "./run demo" not in block


@pytest.mark.timeout(600)
def test_the_demo_and_the_servers_work_as_pasted(demo: Demo, state: Path):
    blocks = readme_blocks()
    commands = [command for block in blocks for command in block]
    assert commands[:2] == ["./run demo", "./run test"], "the two commands come first"
    assert "selected model " in demo.stdout and "ROC AUC" in demo.stdout and "done." in demo.stdout
    assert len(demo.stdout.splitlines()) < 40, "the demo is quiet by default: one line per stage"
    log = Path(re.search(r"Dagster's full log: (\S+)", demo.stdout).group(1))
    assert log.is_relative_to(demo.state) and "STEP_SUCCESS" in log.read_text()
    copy_demo(demo, state)
    env = user_environment(state)

    servers = [command for command in commands if command in SERVERS]
    assert sorted(servers) == sorted(SERVERS)
    # every command is run: here (the servers), by test_readme_commands.py or by test_readme_elsewhere.py
    others = [c for b in blocks if on_the_demos_state(b) or elsewhere(b) for c in b]
    assert set(commands) <= {"./run demo", "./run test", *SERVERS, *others}
    # a SIGTERM to `./run api` itself (not its group) stops the API server it started
    api = serve("./run api", env)
    os.kill(api.pid, signal.SIGTERM)
    api.wait(20)
    assert answers("http://127.0.0.1:8000/health") is False, "the API outlived its ./run api"
    ui = serve("./run ui", env)
    started = [ui]
    try:  # the UI's GraphQL sees the asset graph and every week the demo built
        nodes = graphql("{ assetNodes { assetKey { path } } }")["assetNodes"]
        assert len(nodes) == len(defs.resolve_asset_graph().get_all_asset_keys())
        lists = graphql(
            '{ assetNodeOrError(assetKey: {path: ["visit_list"]}) '
            "{ ... on AssetNode { partitionStats { numMaterialized numFailed } } } }"
        )["assetNodeOrError"]["partitionStats"]
        assert lists["numMaterialized"] == 13 and lists["numFailed"] == 0  # the holdout's 12 weeks and the next one
        stats = graphql(
            '{ assetNodeOrError(assetKey: {path: ["inspection_features"]}) '
            "{ ... on AssetNode { partitionStats { numMaterialized numFailed } } } }"
        )["assetNodeOrError"]["partitionStats"]
        assert stats["numMaterialized"] == 540 and stats["numFailed"] == 0
        started.append(serve("./run api", env))
        assert requests.get("http://127.0.0.1:8000/v1/models/current", timeout=10).json()["model_version"]
        started.append(serve("./run dashboard", env))
        # `./run stop` stops every process the state folder's commands started: the UI (and its daemon), the API,
        # the dashboard, the replay server and the embedded PostgreSQL, within seconds
        stopped = bash("./run stop", env)
        assert stopped.returncode == 0, stopped.stderr
        for process in started:
            process.wait(30)
        assert processes_of(state) == [], processes_of(state)
        assert not any(answers(f"http://127.0.0.1:{port}{path}") for port, path in SERVERS.values())
    finally:
        for process in started:
            if process.poll() is None:
                stop(process)

    # ./run status on the demo's state: the model in service is healthy; a week the Socrata sensor gave up on is not
    status = bash("./run status", env)
    assert status.returncode in (0, 1) and re.search(r"(?m)^ok +model +", status.stdout)
    # the model by its full version, its target named as one; the sample's 2020 data is stale, and says so
    version = re.search(r"(?m)^ok +model +(\S+),", status.stdout).group(1)
    assert re.fullmatch(r"\w+-\d{8}-[0-9a-f]{8}", version) and "(target failed)" in status.stdout
    assert re.search(r"(?m)^ATTENTION +data +newest inspection .* days old", status.stdout)
    assert all(len(line) <= 120 for line in status.stdout.splitlines())
    assert "given up after" not in status.stdout, status.stdout
    given_up = json.dumps({"updated_at": None, "pending": [], "launched": {}, "owed": {"2013-02-04": 3}})
    assert bash(f"./run dagster sensor cursor socrata_changes --set '{given_up}'", env).returncode == 0
    status = bash("./run status", env)
    assert status.returncode == 1, status.stdout
    assert re.search(r"(?m)^ATTENTION +weeks +given up after 3 failed runs: \['2013-02-04'\]", status.stdout)
    assert "need attention" in status.stdout.splitlines()[-1]
