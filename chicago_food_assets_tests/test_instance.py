"""The project's dagster.yaml keeps runs and materialization metadata in PostgreSQL; the demo command works."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg2
import pytest
import requests
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, materialize

from chicago_food_assets.assets.raw import raw_inspections
from chicago_food_assets.instance.run_launcher import LocalRunLauncher
from chicago_food_assets.local.replay import ReplayServer
from chicago_food_assets.resources.storage import LocalRawIOManager
from chicago_food_assets_tests.helpers import (
    daemon_settings,
    exports_of,
    inject,
    launch,
    new_database,
    project_instance,
    request_log,
    rows_between,
    start_daemon,
    user_environment,
    wait,
)

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def dagster_url(server_url: str):
    """A database of its own for Dagster's storage."""
    with new_database(server_url) as url:
        yield url


def test_materializations_and_check_results_persist_in_postgres(monkeypatch, dagster_url, tmp_path, socrata):
    instance = project_instance(monkeypatch, dagster_url, tmp_path)
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    objects = LocalRawIOManager(base_dir=str(tmp_path / "objects"))
    result = materialize(
        [raw_inspections],
        instance=instance,
        partition_key="2013-01-14",
        resources={"socrata": socrata, "raw_io_manager": objects},
    )
    assert result.success
    instance.dispose()

    reopened = project_instance(monkeypatch, dagster_url, tmp_path)  # as after a restart
    event = reopened.get_latest_materialization_event(AssetKey("raw_inspections"))
    assert event.asset_materialization.partition == "2013-01-14"
    assert event.asset_materialization.metadata["dagster/row_count"].value > 100
    assert reopened.get_run_by_id(result.run_id).is_success
    assert reopened.get_materialized_partitions(AssetKey("raw_inspections")) == {"2013-01-14"}


def test_a_range_run_keeps_every_weeks_status_with_pooled_batched_storage(monkeypatch, dagster_url, tmp_path):
    """The storage that pools connections and batches events (docs/performance.md) records what the UI shows per
    week: planned, materialized, and failed when the run failed."""
    from dagster import AssetExecutionContext, BackfillPolicy, DagsterEventType, EventRecordsFilter, asset

    from chicago_food_assets.assets.partitions import weekly
    from chicago_food_assets.instance.storage import BatchedEventLogStorage

    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    instance = project_instance(monkeypatch, dagster_url, tmp_path)
    assert isinstance(instance.event_log_storage, BatchedEventLogStorage)
    assert instance.event_log_storage._engine.pool.size() == 3

    @asset(partitions_def=weekly, backfill_policy=BackfillPolicy.single_run(), io_manager_key="memory")
    def counted(context: AssetExecutionContext) -> None:
        if context.partition_keys[0] >= "2014-01-01":
            raise RuntimeError("this range fails")

    from dagster import InMemoryIOManager

    def run(first: str, last: str):
        tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
        return materialize(
            [counted], instance=instance, tags=tags, resources={"memory": InMemoryIOManager()}, raise_on_error=False
        )

    assert run("2013-01-07", "2013-03-25").success
    assert not run("2014-01-06", "2014-01-20").success
    key = AssetKey("counted")
    assert len(instance.get_materialized_partitions(key)) == 12
    planned = instance.get_event_records(
        EventRecordsFilter(event_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED, asset_key=key)
    )
    assert len(planned) == 15 and len({r.event_log_entry.dagster_event.partition for r in planned}) == 15
    failed = instance.event_log_storage.get_latest_asset_partition_materialization_attempts_without_materializations(
        key
    )
    assert set(failed) == {"2014-01-06", "2014-01-13", "2014-01-20"}
    instance.dispose()


def test_both_deployments_load(monkeypatch, tmp_path):
    from chicago_food_assets import deployment

    monkeypatch.setenv("CHICAGO_FOOD_STATE_DIR", str(tmp_path))
    local = deployment.resources("local")
    assert type(local["raw_io_manager"]).__name__ == "LocalRawIOManager"
    assert local["raw_io_manager"].base_dir == str(tmp_path / "objects")
    assert type(local["model_io_manager"]).__name__ == "ModelIOManager"
    assert "CHICAGO_FOOD_POSTGRES_URL" in repr(local["postgres"])  # a URL from the environment, whatever the profile
    monkeypatch.setenv("CHICAGO_FOOD_S3_BUCKET", "bucket")
    monkeypatch.setenv("CHICAGO_FOOD_POSTGRES_URL", "postgresql://reader:secret@db.example/food")
    prod = deployment.resources("prod")
    assert type(prod["raw_io_manager"]).__name__ == "S3RawIOManager"
    from dagster_aws.s3 import S3PickleIOManager

    assert isinstance(prod["model_io_manager"], S3PickleIOManager)  # Dagster's own, its errors naming the object
    assert "secret" not in repr(prod["postgres"])  # the URL stays an EnvVar until the run resolves it
    with pytest.raises(ValueError, match="must be one of"):
        deployment.resources("staging")


@pytest.mark.system  # a daemon
@pytest.mark.faults
@pytest.mark.timeout(900)
def test_a_killed_run_is_marked_failed_and_frees_its_slot_for_the_next(server_url, tmp_path, sample_rows, monkeypatch):
    """The project's dagster.yaml with one run slot and a 5 s monitoring poll (the only two changes), the daemon
    running: a run whose worker dies with the daemon and its code server is marked failed by the restarted daemon's
    run monitoring (the launcher's health check finds the worker gone), its slot is freed, and the queued run
    behind it runs."""
    home = tmp_path / "home"
    home.mkdir()
    config = (PROJECT / "dagster.yaml").read_text()
    assert "max_concurrent_runs: 2" in config and "poll_interval_seconds: 30" in config
    config = config.replace("max_concurrent_runs: 2", "max_concurrent_runs: 1")
    (home / "dagster.yaml").write_text(config.replace("poll_interval_seconds: 30", "poll_interval_seconds: 5"))
    with (
        new_database(server_url) as dagster_url,
        new_database(server_url) as tables_url,
        ReplayServer(rows_between(sample_rows, "2013-01-07", "2013-01-21")) as replay,
    ):
        settings = daemon_settings(home, dagster_url, tables_url, replay, tmp_path)
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        daemon = start_daemon(tmp_path / "daemon.log")
        instance = DagsterInstance.get()
        try:
            # every pull of the first week hangs (the daemon's own sensor polls the same server: not it)
            inject(replay, delay=600, times=-1, match="inspection_date >= '2013-01-07")
            hung, waiting = launch("2013-01-07"), launch("2013-01-14")
            assert isinstance(instance.run_launcher, LocalRunLauncher)
            pid = wait(lambda: instance.run_launcher.worker_pid(instance.get_run_by_id(hung)), 120, "the run started")
            wait(lambda: any("inspection_date >= '2013-01-07" in str(r) for r in request_log(replay)), 60, "it pulls")
            assert instance.get_run_by_id(hung).status == DagsterRunStatus.STARTED  # and hangs there
            assert instance.get_run_by_id(waiting).status == DagsterRunStatus.QUEUED  # one slot, held by the hung run
            # the machine loses the daemon, its code server and the run worker at once (nothing is left to notice);
            # whoever supervises the daemon starts it again: only its run monitoring, through the launcher's health
            # check, can tell the run is gone. (Killing them all at once leaves the old daemon no moment to dequeue
            # the waiting run onto a dead code server: a race an earlier version of this test lost under load.)
            os.killpg(daemon.pid, signal.SIGKILL)  # the daemon and the code server it started
            daemon.wait(30)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # the run worker, when it was not in their process group
            daemon = start_daemon(tmp_path / "daemon-restarted.log")
            # the restarted daemon loads its code server before it monitors and dequeues: minutes on busy cores
            failed = lambda: instance.get_run_by_id(hung).status == DagsterRunStatus.FAILURE  # noqa: E731
            wait(failed, 360, "the killed run failed", log=tmp_path / "daemon-restarted.log")
            messages = " ".join(event.message or "" for event in instance.all_logs(hung))
            assert f"the run worker (pid {pid}) is gone" in messages  # found by our launcher's health check
            ran = lambda: instance.get_run_by_id(waiting).status == DagsterRunStatus.SUCCESS  # noqa: E731
            wait(ran, 360, "the next run ran", log=tmp_path / "daemon-restarted.log")
        finally:
            instance.dispose()
            os.killpg(daemon.pid, signal.SIGKILL)  # the daemon and the code server it started
            daemon.wait(30)


@pytest.mark.system  # a daemon
@pytest.mark.faults
@pytest.mark.timeout(900)
def test_a_cli_run_cut_off_by_a_database_crash_is_failed_by_the_monitor_and_frees_its_slot(tmp_path, monkeypatch):
    """The embedded PostgreSQL's postmaster is killed under a `./run dagster asset materialize --partition-range`:
    the CLI dies without marking its run failed. In a shell that ran `eval "$(./run env)"`, `./run env` starts the
    crashed server again; the daemon's run monitoring then fails the run within a poll (the CLI's process is the
    run's worker), which frees the only run slot for the run queued behind it."""
    folder = Path(tempfile.mkdtemp(prefix="cfa-crash-"))
    folder.chmod(0o755)  # the embedded server's system user must enter it
    state, home = folder / "state", folder / "home"
    home.mkdir()
    config = (PROJECT / "dagster.yaml").read_text().replace("max_concurrent_runs: 2", "max_concurrent_runs: 1")
    (home / "dagster.yaml").write_text(config.replace("poll_interval_seconds: 30", "poll_interval_seconds: 5"))
    env = {**user_environment(state), "DAGSTER_HOME": str(home)}
    daemon = None
    try:
        first = subprocess.run(["./run", "env"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
        assert first.returncode == 0, first.stderr[-2000:]
        shell = {**env, **exports_of(first.stdout)}  # the user's shell after eval "$(./run env)"
        for name in ("DAGSTER_HOME", "DAGSTER_POSTGRES_URL", "DAGSTER_ARTIFACTS_DIR", "CHICAGO_FOOD_POSTGRES_URL"):
            monkeypatch.setenv(name, shell[name])
        replay = json.loads((state / "replay.json").read_text())["domain"]
        requests.post(
            f"http://{replay}/__replay/faults",
            json={"delay": 8, "times": -1, "match": "inspection_date >= '2013-01-07"},
            timeout=5,
        ).raise_for_status()
        command = ["./run", "dagster", "asset", "materialize", "-m", "chicago_food_assets.definitions"]
        command += ["--select", "raw_inspections", "--partition-range", "2013-01-07...2013-01-14"]
        cli = subprocess.Popen(command, cwd=PROJECT, env=shell, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        instance = DagsterInstance.get()
        run = wait(lambda: next(iter(instance.get_runs(limit=1)), None), 120, "the CLI's run exists")
        wait(lambda: instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED, 60, "it started")
        pulls = f"http://{replay}/__replay/requests"
        wait(lambda: any("2013-01-07" in str(r) for r in requests.get(pulls, timeout=5).json()), 60, "it pulls")
        instance.dispose()
        postmaster = int((state / "postgres" / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)  # the database crashes under the run
        output = cli.communicate(timeout=180)[0].decode(errors="replace")
        assert cli.returncode != 0, output[-2000:]

        again = subprocess.run(["./run", "env"], cwd=PROJECT, env=shell, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr[-2000:]
        psycopg2.connect(shell["DAGSTER_POSTGRES_URL"]).close()  # up again, at the same URL
        instance = DagsterInstance.get()
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED  # nobody could mark it
        queued = str(uuid.uuid4())
        tags = json.dumps(
            {"dagster/asset_partition_range_start": "2013-01-21", "dagster/asset_partition_range_end": "2013-01-21"}
        )
        launched = subprocess.run(
            [
                sys.executable,
                "-m",
                "dagster",
                "job",
                "launch",
                "-w",
                "workspace.yaml",
                "-j",
                "ingest",
                "--tags",
                tags,
                "--run-id",
                queued,
            ],
            cwd=PROJECT,
            env={**shell, **os.environ},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert launched.returncode == 0, launched.stderr[-2000:]
        daemon = subprocess.Popen(
            [sys.executable, "-m", "dagster._daemon", "run", "-w", "workspace.yaml"],
            cwd=PROJECT,
            env={**shell, **os.environ},
            stdout=(folder / "daemon.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # the daemon loads the code location before its first poll: on two busy cores that alone can take a minute
        cut = lambda: instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE  # noqa: E731
        wait(cut, 300, "the cut run failed", log=folder / "daemon.log")
        messages = " ".join(event.message or "" for event in instance.all_logs(run.run_id))
        # found by the launcher's health check: its worker gone, or (when the crash came before the CLI's engine
        # event naming its pid was stored, as on CI's busy cores) no worker named 180 s after the run started
        assert "is gone" in messages or "names no worker process" in messages, messages[-2000:]
        wait(
            lambda: instance.get_run_by_id(queued).status == DagsterRunStatus.SUCCESS,
            180,
            "the queued run ran",
            log=folder / "daemon.log",
        )
        instance.dispose()
    finally:
        if daemon is not None:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(30)
        subprocess.run(["./run", "stop"], cwd=PROJECT, env=env, capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_demo_stage_keeps_no_steps_output_once_it_is_stored(tmp_path):
    """`./run demo` runs its stages in its own process the way `materialize` does, minus the capture of every output
    until the stage ends (which held a whole stage's frames at once: 440 MB of the 300,000-row run's peak). While the
    downstream step runs, the upstream output must already be gone from memory (read back from storage instead), and
    the run is recorded under materialize's job name."""
    import gc
    import weakref

    import pandas as pd
    from dagster import Definitions, FilesystemIOManager, asset

    from chicago_food_assets.local.demo import materialized

    alive: list[bool] = []
    made: list[weakref.ref] = []

    @asset
    def upstream() -> pd.DataFrame:
        frame = pd.DataFrame({"rows": [1]})
        made.append(weakref.ref(frame))
        return frame

    @asset
    def downstream(upstream: pd.DataFrame) -> int:
        gc.collect()
        alive.append(made[0]() is not None)
        return int(upstream["rows"].sum())

    project = Definitions(
        assets=[upstream, downstream], resources={"io_manager": FilesystemIOManager(base_dir=str(tmp_path))}
    )
    with DagsterInstance.ephemeral() as instance:
        assert materialized(["upstream", "downstream"], instance, {}, {"purpose": "test"}, project)
        (run,) = instance.get_runs()
        assert run.job_name == "__ephemeral_asset_job__" and run.tags["purpose"] == "test"
        assert instance.get_latest_materialization_event(AssetKey("downstream")) is not None
    assert alive == [False], "the upstream output was still held while the downstream step ran"
