"""Real parts for the tests: a PostgreSQL server, a moto S3 server over HTTP, the Socrata replay server over HTTP.

PostgreSQL: CHICAGO_FOOD_TEST_POSTGRES_URL when given (`./run test` sets it when a server answers on
127.0.0.1:5432), else an embedded server started for the session. Each session works in a database of its own.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg2
import pytest
import requests

# the steps that talk to Socrata retry as in production (deployment.socrata_retry_policy), without minutes of backoff
os.environ.setdefault("CHICAGO_FOOD_SOCRATA_STEP_RETRY_SECONDS", "0")

from chicago_food_assets.core.ingestion.cleaning import Cleaned, clean
from chicago_food_assets.core.ingestion.raw import frame_of_rows
from chicago_food_assets.data import SAMPLE_PATH
from chicago_food_assets.local.embedded import with_database
from chicago_food_assets.local.environment import PROJECT
from chicago_food_assets.local.replay import ReplayServer, read_rows
from chicago_food_assets.resources.postgres import PostgresResource
from chicago_food_assets.resources.socrata import SocrataResource
from chicago_food_assets_tests.helpers import Demo, user_environment


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a PostgreSQL server's maintenance database."""
    configured = os.environ.get("CHICAGO_FOOD_TEST_POSTGRES_URL")
    if configured:
        yield configured
        return
    import pgserver

    with tempfile.TemporaryDirectory(prefix="cfa-pg-") as folder:
        os.chmod(folder, 0o755)
        server = pgserver.get_server(Path(folder) / "pgdata", cleanup_mode="stop")
        yield server.get_uri()
        server.cleanup()


@pytest.fixture(scope="session")
def postgres_url(server_url: str) -> Iterator[str]:
    """A fresh database for this test session, dropped at the end."""
    name = f"cfa_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    try:
        yield with_database(server_url, name)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture
def postgres(postgres_url: str) -> PostgresResource:
    return PostgresResource(url=postgres_url)


@pytest.fixture
def schema(postgres: PostgresResource) -> Iterator[str]:
    """A schema of its own for one test, so tables never leak between tests."""
    name = f"t_{uuid.uuid4().hex[:8]}"
    yield name
    with postgres.connect() as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture(scope="session")
def sample_rows() -> list[dict]:
    return read_rows(SAMPLE_PATH)


@pytest.fixture(scope="session")
def cleaned_sample(sample_rows: list[dict]) -> Cleaned:
    """The bundled sample cleaned once: inspections, cited violations, rejects."""
    return clean(frame_of_rows(sample_rows))


@pytest.fixture(scope="session")
def replay_server(sample_rows: list[dict]) -> Iterator[ReplayServer]:
    with ReplayServer(sample_rows, token="test-token") as server:
        yield server


@pytest.fixture
def replay(replay_server: ReplayServer) -> Iterator[ReplayServer]:
    """The session's replay server with no faults pending and an empty request log."""
    requests.delete(f"http://{replay_server.domain}/__replay/faults", timeout=5)
    yield replay_server
    requests.delete(f"http://{replay_server.domain}/__replay/faults", timeout=5)


@pytest.fixture
def socrata(replay: ReplayServer) -> SocrataResource:
    return SocrataResource(
        domain=replay.domain,
        scheme="http",
        app_token="test-token",
        backoff_seconds=0.05,
        max_attempts=3,
        timeout_seconds=5,
    )


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server over real HTTP on a free port."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    name = f"cfa-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the workers of one session share: the session's temporary folder (under xdist, the workers' folders are
    inside it). Alone, or with a server of its own per worker (no CHICAGO_FOOD_TEST_POSTGRES_URL), a worker's own."""
    own = tmp_path_factory.getbasetemp()
    shared = os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("CHICAGO_FOOD_TEST_POSTGRES_URL")
    return own.parent if shared else own


def template_name(folder: Path) -> str:
    return "cfa_pipeline_" + hashlib.sha1(str(folder).encode()).hexdigest()[:12]


def drop_database(server_url: str, name: str) -> None:
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        admin.close()


def build_pipeline(url: str, domain: str, objects: Path, models: Path) -> None:
    """What the whole pipeline produces for 25 real weeks (2013-01-07..2013-06-24), as ./run demo runs its stages:
    weekly tables, models (quick settings), scores, monitoring, lookups, lists."""
    from dagster import RunConfig, materialize

    from chicago_food_assets.automation.jobs import LISTS, STAGES
    from chicago_food_assets.definitions import defs, keys
    from chicago_food_assets.local.demo import published
    from chicago_food_assets.resources.storage import LocalRawIOManager, ModelIOManager
    from chicago_food_assets.resources.tables import PostgresIOManager

    postgres = PostgresResource(url=url)
    resources = {
        "socrata": SocrataResource(domain=domain, scheme="http", app_token="test-token"),
        "raw_io_manager": LocalRawIOManager(base_dir=str(objects)),
        "model_io_manager": ModelIOManager(base_dir=str(models)),
        "postgres": postgres,
        "table_io_manager": PostgresIOManager(postgres=postgres),
    }
    assets = list(defs.assets)
    quick = RunConfig(
        {
            "trained_models": {
                "config": {
                    "holdout_weeks": 4,
                    "min_week_rows": 20,
                    "xgboost_trees": 60,
                    "knn_sample": 2000,
                    "knn_neighbors": 25,
                }
            }
        }
    )
    # 25 weeks hold no place's whole canvass cycle: the lists run on a city that canvasses four times as often
    frequent = RunConfig({"visit_list": {"config": {"risk_1_days": 45, "risk_2_days": 90, "risk_3_days": 180}}})
    for stage in STAGES:  # as ./run demo runs them
        for span in stage.ranges("2013-01-07", "2013-06-24", *published(url)):
            extra: dict = {"run_config": quick} if stage.trains else {}
            if span:
                extra = {
                    "tags": {
                        "dagster/asset_partition_range_start": span[0],
                        "dagster/asset_partition_range_end": span[1],
                    }
                }
            if stage.selection == LISTS:
                extra["run_config"] = frequent
            result = materialize(assets, selection=keys(stage.selection), resources=resources, **extra)
            assert result.success


@pytest.fixture(scope="session")
def pipeline(server_url: str, replay_server: ReplayServer, tmp_path_factory) -> Iterator[dict]:
    """A database of its own holding what the whole pipeline produces for 25 real weeks (`build_pipeline`), with
    its object and model folders. Built once per session on a shared server (`CREATE DATABASE ... TEMPLATE`, the
    folders copied), so each worker gets its own copy for the price of a clone."""
    from chicago_food_assets.resources.storage import LocalRawIOManager, ModelIOManager
    from chicago_food_assets.resources.tables import PostgresIOManager

    shared = shared_folder(tmp_path_factory)
    template = template_name(shared)
    built = shared / "pipeline"
    name = f"cfa_pipeline_{uuid.uuid4().hex[:8]}"
    own = tmp_path_factory.mktemp("pipeline")
    with open(shared / "pipeline.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one worker builds; the others wait, then clone
        admin = psycopg2.connect(server_url)
        admin.autocommit = True
        with admin.cursor() as cursor:
            if not (built / "done").exists():
                cursor.execute(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
                cursor.execute(f"CREATE DATABASE {template}")
                build_pipeline(with_database(server_url, template), replay_server.domain, built / "objects",
                               built / "models")  # fmt: skip
                (built / "done").touch()
            # a clone needs the template without sessions (a build's pool may still hold some)
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (template,),
            )
            cursor.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        admin.close()
        shutil.copytree(built / "objects", own / "objects")
        shutil.copytree(built / "models", own / "models")
    url = with_database(server_url, name)
    postgres = PostgresResource(url=url)
    resources = {
        "socrata": SocrataResource(domain=replay_server.domain, scheme="http", app_token="test-token"),
        "raw_io_manager": LocalRawIOManager(base_dir=str(own / "objects")),
        "model_io_manager": ModelIOManager(base_dir=str(own / "models")),
        "postgres": postgres,
        "table_io_manager": PostgresIOManager(postgres=postgres),
    }
    yield {"url": url, "postgres": postgres, "resources": resources}
    drop_database(server_url, name)
    if shared == tmp_path_factory.getbasetemp():  # not shared: this worker's template, dropped with it
        drop_database(server_url, template)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller of a session with workers on a shared server drops the template they cloned; the controller (or
    a session without workers) removes the demo's state folder."""
    if hasattr(session.config, "workerinput"):
        return
    basetemp = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    url = os.environ.get("CHICAGO_FOOD_TEST_POSTGRES_URL")
    if url and session.config.pluginmanager.hasplugin("dsession"):
        drop_database(url, template_name(basetemp))
    made = basetemp / "demo" / "folder"
    if made.exists():
        shutil.rmtree(made.read_text(), ignore_errors=True)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """`./run demo` as a new user runs it (a fresh state folder, the user's environment), then `./run stop`. Run once
    per session by the first worker that asks, the others waiting for it (as `pipeline`); each test works on a copy
    (`copy_demo`), so the README's commands can run on several workers at once."""
    own = tmp_path_factory.getbasetemp()
    shared = (own.parent if os.environ.get("PYTEST_XDIST_WORKER") else own) / "demo"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "stdout").exists():
            if (shared / "folder").exists():  # a build that failed
                shutil.rmtree((shared / "folder").read_text(), ignore_errors=True)
            folder = Path(tempfile.mkdtemp(prefix="cfa-demo-"))
            folder.chmod(0o755)  # the embedded server's system user enters it
            (shared / "folder").write_text(str(folder))
            env = user_environment(folder / "state")
            done = subprocess.run(["./run", "demo"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=900)
            stopped = subprocess.run(["./run", "stop"], cwd=PROJECT, env=env, capture_output=True, text=True)
            assert done.returncode == 0 and stopped.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            (shared / "stdout").write_text(done.stdout)
    return Demo(Path((shared / "folder").read_text()) / "state", (shared / "stdout").read_text())


@pytest.fixture(scope="module")
def api(pipeline) -> Iterator[str]:
    """The score API over a socket, reading the pipeline's tables as the read-only role; its base URL."""
    from chicago_food_assets_tests.helpers import serve_api
    from service.db import ensure_reader

    process, base = serve_api(ensure_reader(pipeline["url"]))
    yield base
    process.terminate()
    process.wait(10)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"  # screenshots (not committed)
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (./run test installs it)"
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-sync",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def state() -> Iterator[Path]:
    """A fresh state folder the embedded server's system user can enter (pytest's tmp_path is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="cfa-state-"))
    folder.chmod(0o755)
    yield folder / "state"
    subprocess.run(["./run", "stop"], cwd=PROJECT, env=user_environment(folder / "state"), capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


# The longest files first, in the order xdist hands them out (./run test's --dist loadfile --no-loadscope-reorder: by
# default xdist reorders files by their number of tests). Each worker starts with one file and, while it has at most
# two tests to run, is given the next file at once: the first two files (a test each, both on the demo's state: one
# worker builds the demo while the other waits for it) take the fifth and sixth files with them (four workers); the
# rest go to whichever worker runs short first.
LONGEST = (  # by their time in `./run test --durations=60`
    "test_first_contact.py",
    "test_readme_commands.py",
    "test_alerts.py",
    "test_automation.py",
    "test_training.py",
    "test_readme_elsewhere.py",
    "test_instance.py",
    "test_service.py",
    "test_data_files.py",
    "test_benchmarks.py",
    "test_infra.py",
    "test_state_folders.py",
    "test_dashboard.py",
    "test_models.py",
    "test_packaging.py",
)


# The tiers (`-m unit`, `-m integration`, `-m system`; `./run test --fast` runs the first). A test's tier follows from
# what it uses: a browser, a user's state folder (the `./run` commands) or a daemon make it `system`; a server
# (PostgreSQL, S3, the replay server, the API) `integration`; the core on DataFrames alone is `unit`.
SYSTEM_MODULES = (
    "test_first_contact.py",
    "test_readme_commands.py",
    "test_readme_elsewhere.py",
    "test_state_folders.py",
    "test_dashboard.py",
)
SYSTEM_FIXTURES = {"state", "browser", "dashboard", "demo"}
SERVER_FIXTURES = {
    "server_url", "postgres_url", "postgres", "schema", "replay_server", "replay", "socrata", "pipeline", "api",
    "s3_endpoint", "s3_bucket", "dagster_url", "instance", "objects", "built", "small_disk", "database",
}  # fmt: skip
SERVER_MODULES = ("test_packaging.py", "test_infra.py", "test_benchmarks.py", "test_postgres_io.py")


def tier(item: pytest.Item) -> str:
    marks = {mark.name for mark in item.iter_markers()}
    used = set(getattr(item, "fixturenames", ()))
    if "system" in marks or item.path.name in SYSTEM_MODULES or used & SYSTEM_FIXTURES:
        return "system"
    if "integration" in marks or item.path.name in SERVER_MODULES or used & SERVER_FIXTURES:
        return "integration"
    return "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(tier(item))

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST.index(name) if name in LONGEST else len(LONGEST)

    items.sort(key=rank)  # stable: the order within and among the other files stays
