"""Small helpers the tests share: talking to the replay server, picking real rows."""

import requests

from chicago_food_assets.replay import ReplayServer


def inject(server: ReplayServer, **fault: object) -> None:
    """Make the replay server misbehave on its next data requests (see replay.server.Fault)."""
    requests.post(f"http://{server.domain}/__replay/faults", json=fault, timeout=5).raise_for_status()


def request_log(server: ReplayServer) -> list[dict]:
    return requests.get(f"http://{server.domain}/__replay/requests", timeout=5).json()


def rows_between(rows: list[dict], first: str, end: str) -> list[dict]:
    """Rows with first <= inspection date < end (ISO dates)."""
    return [row for row in rows if first <= row["inspection_date"][:10] < end]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_process(command: list[str], env: dict[str, str], port: int, path: str = "/", timeout: float = 60.0):
    """Start a server process and wait until it answers HTTP on `port`."""
    import subprocess
    import time

    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited: {process.stdout.read().decode()[-2000:]}")
        try:
            requests.get(f"http://127.0.0.1:{port}{path}", timeout=10)
            return process
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command} did not answer on port {port} within {timeout} s")
