"""Thin Celery tasks of result exports: each loads by id and calls one service."""
from celery import shared_task


@shared_task(name="exports.send_due", queue="ingest", acks_late=True)
def send_due() -> int:
    """Create the jobs that are due and enqueue every job to send now (beat, every 30 s); return how many."""
    from triage.exports.services import create_due_jobs, due_job_ids

    create_due_jobs()
    ids = due_job_ids()
    for job_id in ids:
        send_export.delay(job_id=job_id)
    return len(ids)


@shared_task(name="exports.export_study", queue="ingest", acks_late=True)
def export_study(*, study_id: int) -> int:
    """Create and send a study's due jobs now (after its AI result or a sign-off); return how many."""
    from triage.exports.services import create_due_jobs

    ids = create_due_jobs(study_ids=[study_id])
    for job_id in ids:
        send_export.delay(job_id=job_id)
    return len(ids)


@shared_task(name="exports.send_export", queue="ingest", acks_late=True)
def send_export(*, job_id: int) -> None:
    """Send one export job (a second run finds it claimed or sent and does nothing)."""
    from triage.exports.services import send_export as run

    run(job_id=job_id)
