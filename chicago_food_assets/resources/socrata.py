"""The Socrata (SODA) API behind our own resource, so retries, paging and errors are ours, not sodapy's."""

import contextvars
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote_plus, urlsplit

import pandas as pd
import pyarrow as pa
import requests
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr
from requests.adapters import HTTPAdapter
from sodapy import Socrata
from urllib3.exceptions import MaxRetryError
from urllib3.util import Retry

from chicago_food_assets.core.arrow import text_frame
from chicago_food_assets.core.ingestion.raw import frame_of_rows, parse_rows

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class SocrataError(RuntimeError):
    """A request Socrata refused in a way retrying cannot fix, or that kept failing after every retry."""


@dataclass(frozen=True)
class Pull:
    """Rows as received for a query (every value text: `frame_of_rows`), with what it took to get them."""

    frame: pd.DataFrame
    where: str
    order: str
    source: str
    requests: int
    retries: int
    bytes: int


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Pages of rows as one frame of contiguous text columns (`core.arrow.text_frame`)."""
    if len(frames) == 1:
        return frames[0]
    return text_frame([pa.Table.from_pandas(frame, preserve_index=False) for frame in frames])


def combined(pulls: list[Pull]) -> Pull:
    """Several pulls of one asset (the window, and rows dated outside every partition) as one."""
    return Pull(
        concat([pull.frame for pull in pulls]),
        " OR ".join(f"({pull.where})" for pull in pulls),
        pulls[0].order,
        pulls[0].source,
        sum(pull.requests for pull in pulls),
        sum(pull.retries for pull in pulls),
        sum(pull.bytes for pull in pulls),
    )


@dataclass(frozen=True)
class Changes:
    """Rows changed on the portal since a point in time (`:updated_at`), by inspection date."""

    updated_at: str | None  # the newest change seen: the next cursor
    rows: int
    changed: list[tuple[str, str]]  # (inspection_id, inspection date YYYY-MM-DD) of each changed row

    @property
    def dates(self) -> list[str]:
        return sorted({day for _, day in self.changed if day})


class EmptyAnswerError(RuntimeError):
    """A 200 with no body where rows were expected (sodapy then hands back the Response itself)."""


class BadAnswerError(RuntimeError):
    """A 200 whose body is not the JSON array of rows asked for (a maintenance page, JSON cut short, CSV...)."""


@dataclass
class Traffic:
    """What one query (or a pull of several) took: requests, retries, bytes of rows received, the last answer."""

    requests: int = 0
    retries: int = 0
    bytes: int = 0
    last: str = "no answer"  # the last answer's URL, status, content type and size, for an error message

    def add(self, other: "Traffic") -> None:
        self.requests += other.requests
        self.retries += other.retries
        self.bytes += other.bytes


_TRAFFIC: contextvars.ContextVar[Traffic] = contextvars.ContextVar("socrata_traffic")


def _measure(response: requests.Response, *args: object, **kwargs: object) -> None:
    """Counts this call's requests, the retries urllib3 made below them, and the bytes of rows received."""
    traffic = _TRAFFIC.get(None)
    if traffic is None:
        return
    history = getattr(getattr(response.raw, "retries", None), "history", ()) or ()
    traffic.requests += 1 + len(history)
    traffic.retries += len(history)
    if response.ok:  # bytes of the rows: the body without its JSON array brackets
        traffic.bytes += max(len(response.content) - 2, 0)
    url = urlsplit(response.url)
    kind = response.headers.get("Content-Type", "no content type")
    size = f"{len(response.content):,} bytes"
    traffic.last = f"GET {url.path}?{unquote_plus(url.query)} answered {response.status_code} ({kind}, {size})"


def _keep_values_as_sent(response: requests.Response, *args: object, **kwargs: object) -> None:
    """sodapy parses bodies with `response.json()`: make that parse keep numbers and constants as their text."""
    response.json = lambda **_: parse_rows(response.content)  # type: ignore[method-assign]


def rows_of(answer: object) -> list[dict]:
    """sodapy's answer when it is the JSON array of rows asked for; else an error that says what it is."""
    if isinstance(answer, requests.Response):  # sodapy hands back the Response itself when the body is empty
        raise EmptyAnswerError("an empty body where rows were expected")
    if not isinstance(answer, list):
        raise BadAnswerError(f"a JSON {type(answer).__name__} where an array of rows was expected: {str(answer)[:120]}")
    if answer and not (isinstance(answer[0], dict) and isinstance(answer[-1], dict)):  # text/csv: lists of cells
        raise BadAnswerError(f"an array of {type(answer[0]).__name__}s where rows (objects) were expected")
    return answer


class SocrataResource(ConfigurableResource):
    """Reads the food inspections dataset through sodapy, paging by key and retrying every transient failure.

    Retries: a requests `HTTPAdapter` with urllib3's `Retry` (exponential backoff with jitter, `Retry-After`
    honoured, 408/429/5xx, connection errors and timeouts) does them below sodapy; what happens after the headers
    arrived (a body cut mid-stream, an empty body) is retried here with the same policy. Paging by key: ordered by
    `inspection_id`, each page from the last id received on, so a portal edit during the pull cannot skip or repeat
    a row (offsets can).
    """

    domain: str = Field(default="data.cityofchicago.org", description="host[:port] of the Socrata portal")
    scheme: str = Field(default="https", description="https, or http for the local replay server")
    dataset_id: str = Field(default="4ijn-s7e5")
    app_token: str | None = Field(default=None, description="X-App-Token; from the environment only")
    timeout_seconds: float = 60.0
    page_size: int = Field(default=50000, ge=1, le=50000)
    max_attempts: int = Field(default=6, ge=1)
    backoff_seconds: float = Field(default=1.0, ge=0)
    max_backoff_seconds: float = 60.0

    _client: Socrata | None = PrivateAttr(default=None)

    @property
    def source(self) -> str:
        return f"{self.scheme}://{self.domain}/resource/{self.dataset_id}.json"

    def retry_policy(self) -> Retry:
        return Retry(
            total=self.max_attempts - 1,
            status_forcelist=RETRIED_STATUSES,
            allowed_methods={"GET"},
            backoff_factor=self.backoff_seconds,
            backoff_max=self.max_backoff_seconds,
            backoff_jitter=self.backoff_seconds / 2,
            respect_retry_after_header=True,
            raise_on_status=False,  # the last answer goes back to sodapy, which raises it with its body
        )

    def _socrata(self) -> Socrata:
        if self._client is None:
            adapter = HTTPAdapter(max_retries=self.retry_policy())
            client = Socrata(
                self.domain,
                self.app_token,
                session_adapter={"prefix": f"{self.scheme}://", "adapter": adapter},
                timeout=self.timeout_seconds,
            )
            client.session.hooks["response"].extend([_measure, _keep_values_as_sent])
            self._client = client
        return self._client

    def query(self, **params: str | int) -> tuple[list[dict], Traffic]:
        """One SODA request, retried through every transient failure; the rows and what it took.

        Transient: a status in RETRIED_STATUSES, a connection error or timeout (urllib3 retries those below sodapy),
        and a 200 whose body is not the rows asked for (cut, empty, not JSON, not an array of rows), retried here with
        the same policy. The final error names Socrata, the URL with its query, the status and content type, and
        what was wrong.
        """
        client = self._socrata()
        policy, traffic = self.retry_policy(), Traffic()
        token = _TRAFFIC.set(traffic)
        try:
            while True:
                try:
                    return rows_of(client.get(self.dataset_id, **params)), traffic
                except (EmptyAnswerError, BadAnswerError) as error:
                    failure: Exception = error
                except requests.exceptions.HTTPError as error:
                    status = error.response.status_code if error.response is not None else None
                    if status not in RETRIED_STATUSES:
                        raise SocrataError(self._explain(status, error)) from error
                    raise SocrataError(self._exhausted(traffic, params, error)) from error
                except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
                    raise SocrataError(self._exhausted(traffic, params, error, self.max_attempts)) from error
                except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as error:
                    failure = error  # the body was cut after the headers: urllib3 had already handed it over
                except ValueError as error:  # JSONDecodeError: a body cut short that still matched its length
                    failure = BadAnswerError(f"the body is not complete JSON ({error})")
                except Exception as error:  # sodapy's own "Unknown response format: text/html"
                    if "Unknown response format" not in str(error):
                        raise
                    failure = BadAnswerError(f"the body is not JSON ({error})")
                try:
                    policy = policy.increment(method="GET", url=self.source, error=OSError(str(failure)))
                except MaxRetryError as error:
                    raise SocrataError(self._exhausted(traffic, params, failure)) from error
                traffic.retries += 1
                delay = policy.get_backoff_time()
                log.warning("Socrata answer unusable (%s: %s); retry in %.1fs", traffic.last, failure, delay)
                time.sleep(delay)
        finally:
            _TRAFFIC.reset(token)

    def _exhausted(self, traffic: Traffic, params: dict, error: Exception, attempts: int | None = None) -> str:
        return (
            f"Socrata ({self.source}) kept failing after {attempts or traffic.requests} attempts; query {params}; "
            f"last answer: {traffic.last}; last error: {error}"
        )

    def _explain(self, status: int | None, error: Exception) -> str:
        hint = {
            400: "the query is malformed",
            401: "the app token is not accepted (SOCRATA_APP_TOKEN)",
            403: "the app token is not accepted (SOCRATA_APP_TOKEN)",
            404: f"dataset '{self.dataset_id}' does not exist on {self.domain} (SOCRATA_DATASET_ID)",
        }.get(status or 0, "the request was refused")
        return f"Socrata refused the request to {self.source}: {hint}. Answer: {error}"

    def fetch_window(self, start: datetime, end: datetime) -> Pull:
        """Every row with start <= inspection_date < end, ordered by inspection_id, paged."""
        return self.fetch_where(
            f"inspection_date >= '{start:%Y-%m-%dT%H:%M:%S}' AND inspection_date < '{end:%Y-%m-%dT%H:%M:%S}'"
        )

    def fetch_where(self, where: str, select: str | None = None) -> Pull:
        """Every row matching a SoQL condition, paged by key: `inspection_id >= last`, ordered by it.

        `>=` and not `>`: rows sharing the last id of a page (the feed has a few) are fetched again and the ones
        already received skipped, so none is lost at a page boundary.
        """
        order = "inspection_id"
        pages: list[pd.DataFrame] = []  # each page becomes a compact Arrow-backed frame as it arrives
        total = Traffic()
        last: str | None = None
        seen_at_last = 0  # rows received with inspection_id == last
        while True:
            condition = where if last is None else f"{where} AND inspection_id >= {last}"  # `where`: ANDs only
            fields = {"select": select} if select else {}
            page, traffic = self.query(where=condition, order=order, limit=self.page_size, **fields)
            total.add(traffic)
            pages.append(frame_of_rows(page[seen_at_last:] if last is not None else page))
            if len(page) < self.page_size:
                return Pull(concat(pages), where, order, self.source, total.requests, total.retries, total.bytes)
            newest = str(page[-1].get("inspection_id", ""))
            if not (newest.isascii() and newest.isdigit()):
                raise SocrataError(f"cannot page past inspection_id {newest!r}: the key is not a whole number")
            same = sum(1 for row in page if str(row.get("inspection_id")) == newest)
            if same == len(page):
                raise SocrataError(f"more than {self.page_size} rows share inspection_id {newest}: raise page_size")
            seen_at_last = same
            last = newest

    def newest_update(self) -> str | None:
        """Socrata's newest `:updated_at` over the whole dataset (None for an empty one): one aggregate query."""
        return self.changes_since(None).updated_at

    def changes_since(self, updated_at: str | None) -> Changes:
        """Rows changed on the portal since `updated_at` (Socrata's `:updated_at`): how many, and for each its id
        and (new) inspection date. One aggregate query, then the changed rows' keys paged like any pull."""
        where = f":updated_at > '{updated_at}'" if updated_at else None
        params = {"select": "max(:updated_at) AS updated, count(*) AS n"} | ({"where": where} if where else {})
        (summary,), _ = self.query(**params)
        rows = int(summary.get("n", 0))
        if rows == 0 or where is None:
            return Changes(summary.get("updated") or updated_at, rows, [])
        pull = self.fetch_where(where, select="inspection_id, inspection_date")
        keys = pull.frame[["inspection_id", "inspection_date"]].fillna("").astype(str)
        changed = sorted(set(zip(keys["inspection_id"], keys["inspection_date"].str[:10], strict=True)))
        return Changes(summary["updated"], rows, changed)
