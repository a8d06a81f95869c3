"""Thin Celery tasks of the worklist app."""
from celery import shared_task


@shared_task(name="worklist.sync_entries", queue="ingest", acks_late=True)
def sync_worklist_entries() -> int:
    """Refresh worklist rows a service forgot to refresh (safety net); return how many."""
    from triage.worklist.services import sync_worklist_entries as run

    return run()
