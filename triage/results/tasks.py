"""Thin Celery tasks of the results app."""
from celery import shared_task
from django.db.utils import OperationalError as DatabaseOperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

from triage.studies.tasks import FailStudyOnError

TRANSIENT_ERRORS = (DatabaseOperationalError, BrokerOperationalError)


@shared_task(base=FailStudyOnError, bind=True, name="results.analyse_study", queue="gpu", acks_late=True,
             autoretry_for=TRANSIENT_ERRORS, max_retries=5, retry_backoff=15, retry_backoff_max=300)
def analyse_study(self, *, study_id: int) -> None:
    """Classify, quantify and explain one queued study; store the result and mark it ready."""
    from triage.results.services import StudyLeaseHeld
    from triage.results.services import analyse_study as run

    try:
        run(study_id=study_id)
    except StudyLeaseHeld as held:
        # Another (possibly dead) worker holds the claim: look again when its lease ends.
        raise self.retry(countdown=held.retry_after_s, max_retries=None) from held


@shared_task(name="results.requeue_stuck_analyses", queue="ingest", acks_late=True)
def requeue_stuck_analyses() -> int:
    """Re-enqueue studies stuck in ``queued`` or with an expired ``processing`` lease."""
    from triage.results.services import requeue_stuck_analyses as run

    return run()
