"""The local run launcher: Dagster's default one, plus the health check run monitoring needs.

Dagster's DefaultRunLauncher cannot tell whether a run's worker process is alive, so with it a killed run stays
STARTED for ever and holds a slot of the run queue. This one reads the worker's pid from the run's own
"Started process for run" event and checks the process: gone (or a zombie) while the run is still STARTED means
the worker died, and the daemon's run monitoring marks the run failed and frees its slot. Local deployments only
(the pid is a process on this machine); in Kubernetes the K8sRunLauncher does the same with pods.
"""

from dagster import DagsterEventType, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun

from chicago_food_assets.environment import alive


class LocalRunLauncher(DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def worker_pid(self, run: DagsterRun) -> int | None:
        records = self._instance.get_records_for_run(run.run_id, of_type=DagsterEventType.ENGINE_EVENT).records
        for record in reversed(records):
            event = record.event_log_entry.dagster_event
            metadata = getattr(event.event_specific_data, "metadata", None) or {}
            if "Started process for run" in (event.message or "") and "pid" in metadata:
                return int(metadata["pid"].value)
        return None

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        pid = self.worker_pid(run)
        if pid is None:  # not started yet: the start timeout covers a worker that never comes up
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        if alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, f"the run worker (pid {pid}) is gone")
