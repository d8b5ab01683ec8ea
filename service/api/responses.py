"""What every data route shares: its caching and ETag headers, its documented 304, and passing a JSON document
PostgreSQL built straight through."""

from typing import Any

from litestar import MediaType, Response
from litestar.datastructures import ResponseHeader
from litestar.openapi import ResponseSpec

from service.api.versions import CACHE_CONTROL


def passthrough(document: bytes) -> Response:
    """A JSON document PostgreSQL already built (as UTF-8 bytes): passed through untouched (routes annotate the
    type it has, for the OpenAPI document)."""
    return Response(document, media_type=MediaType.JSON)


# Every data route: cached by Litestar per publication (see service/api/versions.py), and documented with its
# validators and its 304.
VERSIONED: dict[str, Any] = {
    "cache": True,
    "response_headers": [
        ResponseHeader(
            name="ETag",
            description="the published data version (weak); send it as If-None-Match",
            documentation_only=True,  # set by service.api.versions.headers, here only documented (a value gives a type)
            value='W/"0123456789abcdef0123"',
        ),
        ResponseHeader(name="Cache-Control", description=CACHE_CONTROL, documentation_only=True, value=CACHE_CONTROL),
    ],
}
NOT_MODIFIED = {
    304: ResponseSpec(
        data_container=None, description="Not modified: If-None-Match names the current publication (no body)"
    )
}

EXPORTED = {"response_headers": VERSIONED["response_headers"]}
