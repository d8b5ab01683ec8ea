"""Opaque, signed paging cursors for a week's scores."""

import base64
import binascii
import hashlib
import hmac
import secrets
from datetime import date

from litestar.exceptions import ValidationException

MAX_RANK = 2**31 - 1  # rank is a PostgreSQL integer


class Cursors:
    """Paging cursors signed with a key, so only ranks this API handed out come back, for the week they were for.

    The key is the app's setting (CHICAGO_FOOD_API_CURSOR_KEY, read when the app is built): the same on every
    replica; without one each process signs with a key of its own (a cursor then lives as long as it does)."""

    def __init__(self, key: bytes | None = None) -> None:
        self.key = key or secrets.token_bytes(32)

    def _signature(self, week: date, rank: int) -> str:
        digest = hmac.new(self.key, f"{week}:{rank}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:12]).decode()

    def after(self, value: str | None, week: date) -> int:
        """The rank after which the next page starts: from a cursor this API signed for this week, range-checked."""
        if value is None:
            return 0
        try:
            rank_text, signature = base64.urlsafe_b64decode(value.encode()).decode().split(".", 1)
            rank = int(rank_text) if rank_text.isascii() and rank_text.isdigit() and len(rank_text) <= 10 else -1
        except (binascii.Error, UnicodeDecodeError, ValueError) as error:
            raise ValidationException("cursor is not one this API returned") from error
        if not 0 < rank <= MAX_RANK or not hmac.compare_digest(signature, self._signature(week, rank)):
            raise ValidationException("cursor is not one this API returned for this week")
        return rank

    def following(self, week: date, rank: int) -> str:
        """The cursor of the page after `rank`."""
        return base64.urlsafe_b64encode(f"{rank}.{self._signature(week, rank)}".encode()).decode()
