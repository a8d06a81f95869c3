"""Thin Celery tasks of the studies app: each loads by id and calls one service."""
from celery import Task, shared_task
from django.db.utils import OperationalError as DatabaseOperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

TRANSIENT_ERRORS = (DatabaseOperationalError, BrokerOperationalError)


class FailStudyOnError(Task):
    """Mark the study ``failed`` (through a service) when the task errors or runs out of retries."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from triage.studies.services import mark_study_failed_after_error

        study_id = kwargs.get("study_id")
        if study_id is not None:
            mark_study_failed_after_error(study_id=study_id, error=exc)


@shared_task(base=FailStudyOnError, name="studies.ingest_study", queue="ingest", acks_late=True,
             autoretry_for=TRANSIENT_ERRORS, max_retries=5, retry_backoff=10, retry_backoff_max=300)
def ingest_study(*, study_id: int) -> None:
    """Decode, select and order a received study's series, then hand it to the gpu queue."""
    from triage.studies.services import ingest_study as run

    run(study_id=study_id)


@shared_task(name="studies.requeue_stuck_studies", queue="ingest", acks_late=True)
def requeue_stuck_studies() -> int:
    """Re-enqueue studies stuck in ``received`` (broker outage, killed worker); return how many."""
    from triage.studies.services import requeue_stuck_studies as run

    return len(run())
