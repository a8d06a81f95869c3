"""The Celery tasks of the study pipeline: each takes a study id and calls one pipeline service.

Task names keep the step app they run (``studies.ingest_study``, ``results.analyse_study``):
messages already queued and the beat schedule use them.
"""
from celery import Task, shared_task
from django.db.utils import OperationalError as DatabaseOperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

from triage.core.exceptions import StorageOffline

TRANSIENT_ERRORS = (DatabaseOperationalError, BrokerOperationalError, StorageOffline)


class FailStudyOnError(Task):
    """Mark the study ``failed`` (through a service) when the task errors or runs out of retries."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from triage.studies.services.states import mark_study_failed_after_error

        study_id = kwargs.get("study_id")
        if study_id is not None:
            mark_study_failed_after_error(study_id=study_id, error=exc)


@shared_task(base=FailStudyOnError, name="studies.ingest_study", queue="ingest", acks_late=True,
             autoretry_for=TRANSIENT_ERRORS, max_retries=5, retry_backoff=10, retry_backoff_max=300)
def ingest_study(*, study_id: int) -> None:
    """Decode, select and order a received study's series, then hand it to the gpu queue."""
    from triage.pipeline.services import ingest_study as run

    run(study_id=study_id)


@shared_task(base=FailStudyOnError, bind=True, name="results.analyse_study", queue="gpu", acks_late=True,
             autoretry_for=TRANSIENT_ERRORS, max_retries=5, retry_backoff=15, retry_backoff_max=300)
def analyse_study(self, *, study_id: int) -> None:
    """Classify, quantify and explain one queued study; store the result and mark it ready."""
    from triage.pipeline.services import StudyLeaseHeld
    from triage.pipeline.services import analyse_study as run

    try:
        run(study_id=study_id)
    except StudyLeaseHeld as held:
        # Another (possibly dead) worker holds the claim: look again when its lease ends.
        raise self.retry(countdown=held.retry_after_s, max_retries=None) from held


@shared_task(name="results.analyse_shadow", queue="gpu", acks_late=True,
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
