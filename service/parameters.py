"""Path and query parameters checked the way PostgreSQL will read them: a bad one is a 400 that says why."""

from datetime import date

from litestar.exceptions import ValidationException

MAX_LIMIT = 500  # rows per page of a week

BIGINT = 2**63 - 1


def whole(value: str, name: str) -> int:
    """ASCII digits within PostgreSQL's bigint (`str.isdigit` alone accepts `²` and `①`, which `int` refuses)."""
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) > BIGINT:
        raise ValidationException(f"{name} must be a whole number of at most 19 digits, got {value[:40]!r}")
    return int(value)


def text(value: str | None, name: str) -> str | None:
    """A text parameter PostgreSQL can hold: no NUL character."""
    if value is not None and "\x00" in value:
        raise ValidationException(f"{name} must not contain a NUL character")
    return value


def week(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise ValidationException(f"week must be a date in YYYY-MM-DD form, got {value!r}") from error
    if day.weekday() != 0:
        raise ValidationException(f"week must be the Monday that starts the week, got {value} (a {day:%A})")
    return day
