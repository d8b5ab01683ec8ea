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
