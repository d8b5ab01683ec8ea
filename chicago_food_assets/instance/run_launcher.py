"""The local run launcher: Dagster's default one, plus the health check run monitoring needs.

Dagster's DefaultRunLauncher cannot tell whether a run's worker process is alive, so with it a killed run stays
STARTED for ever and holds a slot of the run queue. This one reads the process that executes the run from the run's
own engine events and checks it: gone (or a zombie, or a newer process that reused its pid) while the run is still
STARTED means the worker died, and the daemon's run monitoring marks the run failed and frees its slot.

Two kinds of runs, one check. A run the daemon launched records "Started process for run" (the worker's pid). A run
started from the command line (`dagster asset materialize`, what `./run demo` does) executes in the CLI's own
process, and records that process as the executor's ("Executing steps ... (pid: N)"). When the CLI dies because the
database went away under it, nobody marks its run failed, so the monitor must see it too. Local deployments only
(the pid is a process on this machine); in Kubernetes the K8sRunLauncher does the same with pods.
"""

import time

from dagster import DagsterEventType, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun

from chicago_food_assets.instance.processes import alive, started_at

# The engine events that name the process executing the whole run (not a step's subprocess).
RUN_PROCESS_MESSAGES = ("Started process for run", "Executing steps using multiprocess executor", "Executing steps in")
# A STARTED run that names no process this long after it started never will: its process died before it could.
UNNAMED_GRACE_SECONDS = 180


class LocalRunLauncher(DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def worker(self, run: DagsterRun) -> tuple[int, float] | None:
        """The pid of the process executing the run and when it said so (seconds since the epoch)."""
        records = self._instance.get_records_for_run(run.run_id, of_type=DagsterEventType.ENGINE_EVENT).records
        for record in records:
            event = record.event_log_entry.dagster_event
            metadata = getattr(event.event_specific_data, "metadata", None) or {}
            if (event.message or "").startswith(RUN_PROCESS_MESSAGES) and "pid" in metadata:
                return int(metadata["pid"].value), record.event_log_entry.timestamp
        return None

    def worker_pid(self, run: DagsterRun) -> int | None:
        found = self.worker(run)
        return found[0] if found else None

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        found = self.worker(run)
        if found is None:
            record = self._instance.get_run_record_by_id(run.run_id)
            began = record.start_time if record is not None else None
            if began is not None and time.time() - began > UNNAMED_GRACE_SECONDS:
                return CheckRunHealthResult(
                    WorkerStatus.FAILED, f"the run names no worker process {UNNAMED_GRACE_SECONDS} s after it started"
                )
            return CheckRunHealthResult(WorkerStatus.RUNNING)  # not started yet: the start timeout covers it
        pid, named_at = found
        if not alive(pid):
            return CheckRunHealthResult(WorkerStatus.FAILED, f"the run worker (pid {pid}) is gone")
        began = started_at(pid)
        if began is not None and began > named_at + 1:  # the pid now belongs to a process started after the run's
            return CheckRunHealthResult(WorkerStatus.FAILED, f"the run worker (pid {pid}) is gone (its pid was reused)")
        return CheckRunHealthResult(WorkerStatus.RUNNING)
