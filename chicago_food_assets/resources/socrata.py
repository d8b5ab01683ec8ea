"""The Socrata (SODA) API behind our own resource, so retries, paging and errors are ours, not sodapy's."""

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime

import requests
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr
from sodapy import Socrata

from chicago_food_assets.core.raw import parse_rows

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class SocrataError(RuntimeError):
    """A request Socrata refused in a way retrying cannot fix, or that kept failing after every retry."""


@dataclass(frozen=True)
class Pull:
    """Rows as received for a query, with what it took to get them."""

    rows: list[dict]
    where: str
    order: str
    source: str
    requests: int
    retries: int
    bytes: int


def combined(pulls: list[Pull]) -> Pull:
    """Several pulls of one asset (the window, and rows dated outside every partition) as one."""
    return Pull(
        [row for pull in pulls for row in pull.rows],
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
    dates: list[str]  # inspection dates (YYYY-MM-DD) of the changed rows


def _keep_values_as_sent(response: requests.Response, *args: object, **kwargs: object) -> None:
    """sodapy parses bodies with `response.json()`: make that parse keep numbers and constants as their text."""
    response.json = lambda **_: parse_rows(response.content)  # type: ignore[method-assign]


class SocrataResource(ConfigurableResource):
    """Reads the food inspections dataset; pages with $limit/$offset, retries 429/5xx/timeouts with backoff."""

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
    _bytes: int = PrivateAttr(default=0)

    @property
    def source(self) -> str:
        return f"{self.scheme}://{self.domain}/resource/{self.dataset_id}.json"

    def _socrata(self) -> Socrata:
        if self._client is None:
            adapter = {"prefix": f"{self.scheme}://", "adapter": requests.adapters.HTTPAdapter()}
            logging.getLogger().disabled, previous = True, logging.getLogger().disabled  # sodapy warns on no token
            try:
                client = Socrata(self.domain, self.app_token, session_adapter=adapter, timeout=self.timeout_seconds)
            finally:
                logging.getLogger().disabled = previous
            client.session.hooks["response"].extend([self._count_bytes, _keep_values_as_sent])
            self._client = client
        return self._client

    def _count_bytes(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        if response.ok:  # bytes of the rows: the body without its JSON array brackets
            self._bytes += max(len(response.content) - 2, 0)

    def query(self, **params: str | int) -> tuple[list[dict], int]:
        """One SODA request with retries; returns the rows and how many retries it took."""
        client = self._socrata()
        for attempt in range(1, self.max_attempts + 1):
            try:
                return client.get(self.dataset_id, **params), attempt - 1
            except requests.exceptions.HTTPError as error:
                status = error.response.status_code if error.response is not None else None
                if status not in RETRIED_STATUSES:
                    raise SocrataError(self._explain(status, error)) from error
                failure: Exception = error
                retry_after = error.response.headers.get("Retry-After") if error.response is not None else None
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as error:
                failure, retry_after = error, None
            if attempt == self.max_attempts:
                raise SocrataError(
                    f"{self.source} kept failing after {attempt} attempts ({params}); last error: {failure}"
                ) from failure
            delay = self._delay(attempt, retry_after)
            log.warning(
                "Socrata request failed (%s); retry %d/%d in %.1fs", failure, attempt, self.max_attempts - 1, delay
            )
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None and retry_after.isdigit():
            return min(float(retry_after), self.max_backoff_seconds)
        exponential = self.backoff_seconds * 2 ** (attempt - 1)
        return min(exponential * (0.5 + random.random() / 2), self.max_backoff_seconds)

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

    def fetch_where(self, where: str) -> Pull:
        """Every row matching a SoQL condition, ordered by inspection_id, paged."""
        order = "inspection_id"
        rows: list[dict] = []
        requests_made = retries = 0
        self._bytes = 0
        while True:
            page, page_retries = self.query(where=where, order=order, limit=self.page_size, offset=len(rows))
            requests_made += 1
            retries += page_retries
            rows.extend(page)
            if len(page) < self.page_size:
                break
        return Pull(rows, where, order, self.source, requests_made, retries, self._bytes)

    def changes_since(self, updated_at: str | None) -> Changes:
        """Two aggregate queries, however large the dataset: how many rows changed, and on which inspection dates."""
        where = f":updated_at > '{updated_at}'" if updated_at else None
        params = {"select": "max(:updated_at) AS updated, count(*) AS n"} | ({"where": where} if where else {})
        (summary,), _ = self.query(**params)
        rows = int(summary.get("n", 0))
        if rows == 0 or where is None:
            return Changes(summary.get("updated") or updated_at, rows, [])
        dates, _ = self.query(
            select="inspection_date, count(*) AS n", where=where, group="inspection_date", limit=self.page_size
        )
        return Changes(
            summary["updated"], rows, sorted({d["inspection_date"][:10] for d in dates if d.get("inspection_date")})
        )
