"""The framework's ceiling for the API benchmark: a bare Litestar JSON route on the same uvicorn settings."""

from litestar import Litestar, get


@get("/bare", sync_to_thread=False)
def bare() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[bare])
