"""The Celery tasks of the study pipeline: each takes a study id and calls one pipeline service.

Task names keep the step app they run (``studies.ingest_study``, ``results.analyse_study``):
messages already queued and the beat schedule use them. The analysis is three tasks on three
queues (``settings.TRIAGE_PIPELINE_QUEUES``)::

    results.analyse_study (prepare, CPU) ──> results.classify_study (gpu) ──> results.finish_study (CPU)

``results.analyse_study`` stays the entry: it prepares a queued study and sends one already past
preparing to its waiting stage, so the sweeps and old messages need no other name.
"""
from celery import Task, shared_task
from django.conf import settings
from django.db.utils import OperationalError as DatabaseOperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

from triage.core.exceptions import StorageOffline

TRANSIENT_ERRORS = (DatabaseOperationalError, BrokerOperationalError, StorageOffline)
QUEUES = settings.TRIAGE_PIPELINE_QUEUES


class FailStudyOnError(Task):
    """Mark the study ``failed`` (through a service) when the task errors or runs out of retries."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from triage.studies.services.states import mark_study_failed_after_error

        study_id = kwargs.get("study_id")
        if study_id is not None:
            mark_study_failed_after_error(study_id=study_id, error=exc)


@shared_task(base=FailStudyOnError, name="studies.ingest_study", queue=QUEUES["ingest"]["queue"], acks_late=True,
             autoretry_for=TRANSIENT_ERRORS, max_retries=5, retry_backoff=10, retry_backoff_max=300)
def ingest_study(*, study_id: int) -> None:
    """Decode, select and order a received study's series, then hand it to analysis."""
    from triage.pipeline.services import ingest_study as run

    run(study_id=study_id)


def _retry_while_held(task: Task, run, *, study_id: int):
    """Run one analysis stage; when another (possibly dead) worker holds it, look again when its lease ends."""
    from triage.pipeline.services import StudyLeaseHeld

    try:
        return run(study_id=study_id)
    except StudyLeaseHeld as held:
        raise task.retry(countdown=held.retry_after_s, max_retries=None) from held


def _step(step: str) -> dict:
    """The Celery options of a pipeline step: its queue and time limits from settings, retries on transient errors."""
    options = QUEUES[step]
    return {"queue": options["queue"], "soft_time_limit": options["soft_time_limit"], "time_limit": options["time_limit"],
            "base": FailStudyOnError, "bind": True, "acks_late": True, "autoretry_for": TRANSIENT_ERRORS,
            "max_retries": 5, "retry_backoff": 15, "retry_backoff_max": 300}


@shared_task(name="results.analyse_study", **_step("prepare"))
def analyse_study(self, *, study_id: int) -> None:
    """Start (prepare: decode, cut the model input) or resume a study's analysis; the entry every sender uses."""
    from triage.pipeline.services import analyse_study as run

    _retry_while_held(self, run, study_id=study_id)


@shared_task(name="results.classify_study", **_step("classify"))
def classify_study(self, *, study_id: int) -> None:
    """Run the model and Grad-CAM on a prepared study (the only task a GPU worker runs)."""
    from triage.pipeline.services import classify_study as run

    _retry_while_held(self, run, study_id=study_id)


@shared_task(name="results.finish_study", **_step("finish"))
def finish_study(self, *, study_id: int) -> None:
    """Quantify, check the domain, render the overlays, store the result and mark the study ready."""
    from triage.pipeline.services import finish_study as run

    _retry_while_held(self, run, study_id=study_id)


@shared_task(name="results.analyse_shadow", queue=QUEUES["classify"]["queue"], acks_late=True,
             autoretry_for=TRANSIENT_ERRORS, max_retries=5, retry_backoff=15, retry_backoff_max=300)
def analyse_shadow(*, study_id: int, model_version_id: int) -> None:
    """Run a candidate model on a ready study and store its hidden result (a failure never fails the study)."""
    from triage.pipeline.services import analyse_shadow as run

    run(study_id=study_id, model_version_id=model_version_id)


@shared_task(name="studies.requeue_stuck_studies", queue="ingest", acks_late=True)
def requeue_stuck_studies() -> int:
    """Re-enqueue studies stuck in ``received`` (broker outage, killed worker); return how many."""
    from triage.pipeline.services import requeue_stuck_studies as run

    return len(run())


@shared_task(name="results.requeue_stuck_analyses", queue="ingest", acks_late=True)
def requeue_stuck_analyses() -> int:
    """Re-enqueue studies stuck in ``queued`` or with an expired ``processing`` lease."""
    from triage.pipeline.services import requeue_stuck_analyses as run

    return run()


@shared_task(name="results.requeue_missed_shadow_analyses", queue="ingest", acks_late=True)
def requeue_missed_shadow_analyses() -> int:
    """Re-send shadow analyses that ready studies missed (broker down or message lost); return how many."""
    from triage.pipeline.shadow import requeue_missed_shadow_analyses as run

    return run()
