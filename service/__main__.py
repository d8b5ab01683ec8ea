"""`python -m service`: the score API on uvicorn (one worker).

CHICAGO_FOOD_API_DATABASE_URL  the read-only role's URL (`./run api` creates the role and sets it)
CHICAGO_FOOD_API_HOST          default 127.0.0.1
CHICAGO_FOOD_API_PORT          default 8000
"""

import os

import uvicorn

from service.api.app import create_app


def main() -> None:
    app = create_app(os.environ["CHICAGO_FOOD_API_DATABASE_URL"])
    uvicorn.run(
        app,
        host=os.environ.get("CHICAGO_FOOD_API_HOST", "127.0.0.1"),
        port=int(os.environ.get("CHICAGO_FOOD_API_PORT", "8000")),
        log_level=os.environ.get("CHICAGO_FOOD_API_LOG_LEVEL", "warning"),
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=5,  # a request stuck on a dead database never holds a shutdown (or a deploy)
    )


if __name__ == "__main__":
    main()
