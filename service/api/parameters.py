"""Path and query parameters checked the way PostgreSQL will read them: a bad one is a 400 that says why."""

from datetime import date

from litestar import Request
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


def zip_code(value: str | None) -> str | None:
    """A Chicago ZIP code: five digits (the list stores the first five of ZIP+4)."""
    if value is None:
        return None
    text(value, "zip")
    if not (len(value) == 5 and value.isascii() and value.isdigit()):
        raise ValidationException(f"zip must be five digits, got {value[:20]!r}")
    return value


def week(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise ValidationException(f"week must be a date in YYYY-MM-DD form, got {value!r}") from error
    if day.weekday() != 0:
        raise ValidationException(f"week must be the Monday that starts the week, got {value} (a {day:%A})")
    return day


# what a handler's signature may name that is not a query parameter
NOT_QUERY = frozenset({"request", "database", "state", "headers", "cookies", "query", "scope", "body", "data"})


def only_known(request: Request) -> None:
    """A query parameter the route does not take is a 400 naming it (`page_size=-1` was silently ignored)."""
    given = set(request.query_params)
    if not given:
        return
    taken = set(request.route_handler.parsed_fn_signature.parameters) - NOT_QUERY - set(request.path_params)
    unknown = sorted(given - taken)
    if unknown:
        takes = ", ".join(sorted(taken)) or "no query parameters"
        raise ValidationException(f"unknown query parameter {', '.join(unknown)}: this route takes {takes}")
