"""The Celery application: one queue per pipeline step, late acknowledgement, JSON only.

``ingest``, ``prepare`` and ``finish`` run on CPU workers (parsing and storing DICOM; decoding,
preprocessing, quantifying and rendering); ``gpu`` runs only the model, on one worker process
per GPU (``settings.TRIAGE_PIPELINE_QUEUES``). On a single machine one worker consumes them all.
"""
import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "triage.settings")

from django.conf import settings  # noqa: E402 (after the settings module is named)

app = Celery("triage")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_queues=[Queue(name) for name in settings.TRIAGE_ALL_QUEUES.split(",")],
    task_default_queue="ingest",
    task_acks_late=True,
    # A task whose worker died is re-queued instead of acknowledged as failed.
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # A new pool process loads TensorFlow and the model before it reports up (TRIAGE_PRELOAD_MODEL);
    # with Celery's 4 s default a replacement for a killed process is itself killed, again and again.
    worker_proc_alive_timeout=float(os.environ.get("CELERY_WORKER_PROC_ALIVE_TIMEOUT", "120")),
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    task_soft_time_limit=int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", "1200")),
    task_time_limit=int(os.environ.get("CELERY_TASK_TIME_LIMIT", "1500")),
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()
