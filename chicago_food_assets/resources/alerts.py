"""Sending alerts: by email (SMTP) and to a webhook that takes Slack-compatible JSON; each channel off when unset.

A delivery is tried `attempts` times with a doubling pause, all within `deadline_seconds`; one that still fails is
logged and reported to the caller (the alerting sensor keeps it and tries again on its next ticks). Nothing here
raises into a run. The deadline is wall-clock: a receiver that trickles a byte every few seconds never trips a
per-read timeout, so the connection is cut when the delivery's time is up (a sensor tick must end well within the
code server's 60 s, or every sensor waits).
"""

import http.client
import json
import logging
import smtplib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

from dagster import ConfigurableResource
from pydantic import Field

from chicago_food_assets.operations.messages import Alert

log = logging.getLogger(__name__)

EMAIL, WEBHOOK = "email", "webhook"


class AlertResource(ConfigurableResource):
    smtp_host: str | None = Field(default=None, description="SMTP server; email is off when unset")
    smtp_port: int = Field(default=587, description="SMTP port")
    smtp_user: str | None = Field(default=None, description="SMTP login (optional)")
    smtp_password: str | None = Field(default=None, description="SMTP password (a secret: EnvVar)")
    smtp_starttls: bool = Field(default=True, description="upgrade the connection with STARTTLS")
    email_from: str = Field(default="chicago-food@localhost", description="the alerts' sender")
    email_to: str = Field(default="", description="recipients, comma-separated; email is off when empty")
    webhook_url: str | None = Field(
        default=None, description="Slack incoming webhook (or any receiver of its JSON); a secret: EnvVar"
    )
    ui_url: str = Field(default="http://127.0.0.1:3000", description="the Dagster UI's base URL, for links")
    attempts: int = Field(default=3, ge=1, description="tries per delivery within one sensor tick")
    backoff_seconds: float = Field(default=1.0, ge=0, description="pause before the second try, doubled after")
    timeout_seconds: float = Field(default=10.0, gt=0, description="each network wait (connect, one read)")
    deadline_seconds: float = Field(
        default=15.0, gt=0, description="the most one delivery may take, its retries included (wall-clock)"
    )

    def channels(self) -> list[str]:
        """The channels configured: email when a server and recipients are set, the webhook when its URL is."""
        found = []
        if self.smtp_host and self.recipients():
            found.append(EMAIL)
        if self.webhook_url:
            found.append(WEBHOOK)
        return found

    def recipients(self) -> list[str]:
        return [address.strip() for address in self.email_to.split(",") if address.strip()]

    def send(self, alert: Alert, channels: list[str]) -> list[str]:
        """Deliver `alert` on each of `channels`; returns the channels where it did not arrive."""
        failed = []
        for channel in channels:
            deliver: Callable[[Alert, float], None] = self._email if channel == EMAIL else self._webhook
            if not self._tried(deliver, alert, f"{channel} alert {alert.key}"):
                failed.append(channel)
        return failed

    def _tried(self, deliver: Callable[[Alert, float], None], alert: Alert, what: str) -> bool:
        pause, end = self.backoff_seconds, time.monotonic() + self.deadline_seconds
        for attempt in range(1, self.attempts + 1):
            left = end - time.monotonic()
            if left <= 0:
                log.warning("%s: gave up after the delivery's %gs deadline", what, self.deadline_seconds)
                return False
            try:
                deliver(alert, left)
                return True
            except Exception as error:  # any failure of a receiver: logged, retried, never raised
                log.warning("%s: attempt %d of %d failed: %s", what, attempt, self.attempts, error)
                if attempt < self.attempts:
                    time.sleep(max(0.0, min(pause, end - time.monotonic())))
                    pause *= 2
        return False

    def _email(self, alert: Alert, within: float) -> None:
        assert self.smtp_host is not None
        message = alert.email(self.email_from, self.recipients(), self.ui_url)
        with smtplib.SMTP(timeout=min(self.timeout_seconds, within)) as server, cut_after(within, server):
            server.connect(self.smtp_host, self.smtp_port)
            if self.smtp_starttls:
                server.starttls()
            if self.smtp_user:
                server.login(self.smtp_user, self.smtp_password or "")
            server.send_message(message)

    def _webhook(self, alert: Alert, within: float) -> None:
        assert self.webhook_url is not None
        url = urlsplit(self.webhook_url)
        kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        connection = kind(url.hostname or "", url.port, timeout=min(self.timeout_seconds, within))
        body = json.dumps(alert.slack(self.ui_url)).encode()
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        try:
            with cut_after(within, connection):
                connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
        finally:
            connection.close()
        if response.status >= 400:
            raise RuntimeError(f"the webhook answered {response.status} {response.reason}")


@contextmanager
def cut_after(seconds: float, holder: object) -> Iterator[None]:
    """Shut the socket of `holder` (its `.sock`) when `seconds` have passed: a blocked read returns at once."""
    expired = threading.Event()

    def cut() -> None:
        expired.set()
        sock = getattr(holder, "sock", None)
        if sock is not None:
            with suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(seconds, cut)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception as error:
        if expired.is_set():
            raise TimeoutError(f"no answer within the delivery's deadline ({seconds:.1f}s left)") from error
        raise
    finally:
        timer.cancel()
