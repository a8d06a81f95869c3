"""CT Triage Django project."""
from triage.celery import app as celery_app

__all__ = ["celery_app"]
