"""What a production-profile worker adds to dagster-celery's stock worker, as an include:
`celery -A dagster_celery.app worker -n worker1@%h -I medallion.deploy.celery_worker`.

Before a run's task starts, the run is tagged with the worker's node name (`medallion/worker`): users see in the UI
which worker ran it, and run monitoring asks that worker whether the run is still alive
(medallion/deploy/celery_launcher.py).
"""

from __future__ import annotations

from celery.signals import task_prerun
from dagster_celery.config import TASK_EXECUTE_JOB_NAME, TASK_RESUME_JOB_NAME

from medallion.names import WORKER_TAG


@task_prerun.connect
def tag_run_with_worker(task=None, kwargs=None, **_) -> None:
    if task is None or task.name not in (TASK_EXECUTE_JOB_NAME, TASK_RESUME_JOB_NAME):
        return
    import dagster as dg
    from dagster._serdes import unpack_value

    # dagster-celery's launcher sends both tasks this one keyword argument: ExecuteRunArgs or ResumeRunArgs.
    run_id = unpack_value(kwargs["execute_job_args_packed"]).run_id
    with dg.DagsterInstance.get() as instance:
        instance.add_run_tags(run_id, {WORKER_TAG: task.request.hostname})
