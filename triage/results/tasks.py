from celery import shared_task


@shared_task(name="results.analyse_study", queue="gpu", acks_late=True)
def analyse_study(*, study_id: int) -> None:
    """Analyse one queued study on a GPU worker (filled in by the pipeline issue)."""
    from triage.results.services import analyse_study as run

    run(study_id=study_id)
