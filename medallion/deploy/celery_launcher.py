"""dagster-celery's run launcher (a whole run per Celery task, taken by any worker listening on the broker), with a
health check that tells a run whose worker is gone, and launch errors that name the broker.

dagster-celery 0.29.27 judges a run by its task's state in the Celery result backend. A worker killed with its
run (SIGKILL, OOM, a lost host) never writes another state, so that task stays STARTED and the run stays STARTED
forever; a task that ended without the run reporting its end reads SUCCESS, which run monitoring takes as healthy.
With Redis's result backend the launcher also subscribes to every task's result channel and never reads it. So
here tasks are sent without results (`task_ignore_result`), the worker tags the run with its name before the run
starts (medallion/deploy/celery_worker.py), and the health check asks that worker, over the broker, whether it
is still running the run's task: no answer, or an answer without the task, fails the run.
"""

from __future__ import annotations

from dagster import Field, StringSource
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG
from kombu.exceptions import OperationalError
from kombu.utils.url import sanitize_url

from medallion.deploy.run_launcher import terminal_process_health
from medallion.names import WORKER_TAG

BROKER_VARIABLE = "CELERY_BROKER_URL"
# A worker's main process answers while its pool process runs the task; on a loaded machine it may be slow, so it
# gets a second, longer chance before its run is failed.
ANSWER_TIMEOUTS_SECONDS = (5.0, 15.0)


class BrokerUnreachableError(RuntimeError):
    """The broker refused or dropped the connection while a run was being sent to the workers."""


class WorkerRunLauncher(CeleryRunLauncher):
    def __init__(self, broker: str, default_queue: str = "dagster", inst_data=None, **config):
        config_source = {**(config.pop("config_source", None) or {}), "task_ignore_result": True}
        super().__init__(
            default_queue, broker=broker, backend="disabled", config_source=config_source, inst_data=inst_data, **config
        )

    @classmethod
    def config_type(cls):
        fields = dict(super().config_type())
        del fields["backend"]  # no results are kept: the health check asks the workers
        fields["broker"] = Field(StringSource, description=f"The Redis broker's URL, e.g. {{env: {BROKER_VARIABLE}}}.")
        return fields

    @property
    def supports_resume_run(self) -> bool:
        # dagster-celery 0.29.27 sends its resume task `execute_job_args_packed`, which that task does not take.
        return False

    @property
    def broker_name(self) -> str:
        return sanitize_url(self.broker)  # the password as **

    def launch_run(self, context: LaunchRunContext) -> None:
        try:
            super().launch_run(context)
        except OperationalError as error:
            message = (
                f"the Celery broker {self.broker_name} ({BROKER_VARIABLE}) cannot be reached, so no worker can take "
                f"this run: {error}. Start it (`make prod-up` starts Redis) or correct {BROKER_VARIABLE}, then "
                "re-execute the run."
            )
            self._instance.report_run_failed(context.dagster_run, message)
            raise BrokerUnreachableError(message) from error

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        task_id = run.tags.get(DAGSTER_CELERY_TASK_ID_TAG)
        if task_id is None:  # executed in a terminal (dg launch, medallion launch), not sent to a worker
            return terminal_process_health(self._instance, run)
        worker = run.tags.get(WORKER_TAG)
        if worker is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no worker has recorded taking it yet")
        for timeout in ANSWER_TIMEOUTS_SECONDS:
            answer = self.celery.control.inspect(destination=[worker], timeout=timeout).active()
            if answer and worker in answer:
                break
        else:
            return CheckRunHealthResult(
                WorkerStatus.FAILED,
                f"its Celery worker {worker} does not answer on the broker {self.broker_name} (killed, crashed or "
                "cut off); the run's process went with it",
            )
        if any(task.get("id") == task_id for task in answer[worker]):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"its Celery worker {worker} answers but no longer runs the run's task {task_id} (the run's process "
            "died, or the worker was restarted)",
        )

    def get_run_worker_debug_info(self, run: DagsterRun, include_container_logs: bool | None = True) -> str | None:
        answering = sorted(name for reply in self.celery.control.ping(timeout=2.0) for name in reply)
        return (
            f"Celery task {run.tags.get(DAGSTER_CELERY_TASK_ID_TAG)} on queue {self.default_queue} of broker "
            f"{self.broker_name}; taken by {run.tags.get(WORKER_TAG, 'no worker')}; workers answering now: "
            f"{', '.join(answering) or 'none'}"
        )
