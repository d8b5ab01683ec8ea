"""A local Socrata (SODA 2.0) server that replays real inspection rows over HTTP.

It powers the offline demo and the tests. Besides `/resource/<dataset>.json` it has a small control API
under `/__replay/` to inject faults (status codes, slow answers), append or edit rows, and read the request log.
"""

import json
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from chicago_food_assets.local.replay import files, soda

DATASET_ID = "4ijn-s7e5"


def read_rows(path: str | Path) -> list[dict]:
    """The rows of a data file of any accepted kind (`replay.files`), without its unreadable lines."""
    return files.load(path).rows


@dataclass
class Fault:
    """What the next `times` data requests (-1: all of them) meet, after `delay` seconds.

    `status`: answered with that status. `cut`: the real answer, its body cut after that many bytes (the connection
    closes mid-body). `cut_headers`: the connection closes in the middle of the headers. `empty`: a 200 with no body.
    `rows`: these rows are added or edited first (the portal changing during a pull), then the request is answered.
    `body` (with `content_type`): a complete 200 answer with this body instead of rows (a maintenance page).
    `half`: the real answer's first half as a complete 200 (its Content-Length matching): JSON cut in the middle.
    `match`: only requests whose decoded query string contains this text (say, a pull and not a sensor's poll).
    A fault with none of these only delays (or, with delay 0, lets a request through untouched).
    """

    status: int | None = None
    delay: float = 0.0
    times: int = 1
    retry_after: int | None = None
    cut: int | None = None
    cut_headers: bool = False
    empty: bool = False
    rows: list[dict] | None = None
    body: str | None = None
    content_type: str = "text/html; charset=utf-8"
    half: bool = False
    match: str | None = None  # only requests whose query string contains this text meet the fault


@dataclass
class ReplayState:
    table: soda.Table
    dataset_id: str = DATASET_ID
    token: str | None = None
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self, query: str = "") -> Fault | None:
        with self.lock:
            if not self.faults or (self.faults[0].match is not None and self.faults[0].match not in query):
                return None
            fault = self.faults[0]
            if fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.pop(0)
            return fault


class _Handler(BaseHTTPRequestHandler):
    server: "ReplayServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # -- data API ------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/__replay/requests":
            with self.server.state.lock:
                self._send(HTTPStatus.OK, list(self.server.state.requests))
            return
        if not url.path.startswith("/resource/"):
            self._send(HTTPStatus.NOT_FOUND, _error("not_found", f"no such path {url.path}"))
            return
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        state = self.server.state
        with state.lock:
            state.requests.append({"path": url.path, "params": params, "token": self.headers.get("X-App-Token")})
        fault = state.next_fault(unquote_plus(url.query))
        if fault is not None:
            time.sleep(fault.delay)
            if fault.status is not None:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                self._send(fault.status, _error("injected", f"injected fault {fault.status}"), headers)
                return
            if fault.cut_headers:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: applic")
                self.close_connection = True
                return
            if fault.empty:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if fault.body is not None:
                self._send_bytes(HTTPStatus.OK, fault.body.encode(), fault.content_type)
                return
            if fault.rows:
                with state.lock:
                    state.table.upsert(fault.rows)
        dataset = url.path.removeprefix("/resource/").removesuffix(".json")
        if dataset != state.dataset_id:
            self._send(HTTPStatus.NOT_FOUND, _error("dataset.missing", f"Cannot find view with id {dataset}"))
            return
        token = self.headers.get("X-App-Token")
        if state.token is not None and token is not None and token != state.token:
            self._send(HTTPStatus.FORBIDDEN, _error("permission_denied", "Invalid app_token specified"))
            return
        try:
            query = soda.parse_query(params)
            with state.lock:
                rows = soda.run(state.table, query)
        except soda.QueryError as error:
            self._send(HTTPStatus.BAD_REQUEST, _error("query.compiler.malformed", str(error)))
            return
        except Exception as error:  # a bug here must answer 500, not drop the connection
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, _error("internal", f"{type(error).__name__}: {error}"))
            return
        if fault is not None and fault.half:
            body = json.dumps(rows).encode()
            self._send_bytes(HTTPStatus.OK, body[: len(body) // 2], "application/json; charset=utf-8")
            return
        self._send(HTTPStatus.OK, rows, cut=fault.cut if fault is not None else None)

    # -- control API ---------------------------------------------------------------------------------
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
        state = self.server.state
        path = urlsplit(self.path).path
        if path == "/__replay/faults":
            with state.lock:
                state.faults.extend(Fault(**spec) for spec in (body if isinstance(body, list) else [body]))
            self._send(HTTPStatus.OK, {"faults": len(state.faults)})
        elif path == "/__replay/rows":
            with state.lock:
                added, replaced = state.table.upsert(body)
            self._send(HTTPStatus.OK, {"added": added, "replaced": replaced})
        else:
            self._send(HTTPStatus.NOT_FOUND, _error("not_found", f"no such path {path}"))

    def do_DELETE(self) -> None:
        state = self.server.state
        with state.lock:
            state.faults.clear()
            state.requests.clear()
        self._send(HTTPStatus.OK, {"reset": True})

    def _send(
        self, status: int, payload: object, headers: dict[str, str] | None = None, cut: int | None = None
    ) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if cut is not None:  # a response cut mid-body: the promised length never arrives
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def _send_bytes(self, status: int, body: bytes, content_type: str) -> None:
        """A complete answer: this body, its length as Content-Length."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _error(code: str, message: str) -> dict:
    return {"code": code, "error": True, "message": message}


class ReplayServer(ThreadingHTTPServer):
    """`with ReplayServer(rows) as server:` serves on 127.0.0.1:`server.port` from a background thread."""

    daemon_threads = True

    def __init__(
        self,
        rows: Iterable[dict],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        dataset_id: str = DATASET_ID,
        token: str | None = None,
        verbose: bool = False,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.state = ReplayState(table=soda.Table(list(rows)), dataset_id=dataset_id, token=token)
        self.verbose = verbose
        self._thread: threading.Thread | None = None

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up mid-answer (a fault test's cut body, a retry's abandoned request) is not a server
        error: nothing to print. Anything else is printed as socketserver does."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipeError, ConnectionResetError, ...
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def domain(self) -> str:
        return f"{self.server_address[0]}:{self.port}"

    def start(self) -> "ReplayServer":
        self._thread = threading.Thread(target=self.serve_forever, name="socrata-replay", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> "ReplayServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
