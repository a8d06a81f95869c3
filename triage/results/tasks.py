"""Thin Celery tasks of the results app (the analysis tasks themselves live in :mod:`triage.pipeline.tasks`)."""
from celery import shared_task
from django.utils import timezone


@shared_task(name="results.collect_unreferenced_overlays", queue="ingest", acks_late=True)
def collect_unreferenced_overlays() -> int:
    """Delete overlay images no row names once past the grace period (beat, hourly); return how many."""
    from triage.results.services import collect_unreferenced_overlays as run

    return run(now=timezone.now())
