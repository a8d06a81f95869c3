"""Publish pipeline tasks: after commit, and surviving a broker outage (the sweeps retry)."""
from __future__ import annotations

import logging

from django.conf import settings

logger = logging.getLogger(__name__)

PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import KombuError

    errors: list[type[BaseException]] = [KombuError, OSError]
    try:
        from redis.exceptions import RedisError

        errors.append(RedisError)
    except ImportError:  # pragma: no cover - redis is a dependency in production only
        pass
    return tuple(errors)


def queue_of(step: str) -> str:
    """Return the Celery queue of a pipeline step (``settings.TRIAGE_PIPELINE_QUEUES``)."""
    return settings.TRIAGE_PIPELINE_QUEUES[step]["queue"]


def _send(task, *, study_id: int, queue: str, countdown_s: float | None = None, **arguments: int) -> bool:
    """Publish ``task(study_id=…, **arguments)`` to ``queue``; on a broker error log it and return False (the sweep retries)."""
    delay = {"countdown": countdown_s} if countdown_s else {}
    try:
        # ignore_result: nothing reads these results, and a result-backend subscription would
        # turn a Redis outage into a RuntimeError before the message is even sent.
        task.apply_async(kwargs={"study_id": study_id, **arguments}, queue=queue, retry_policy=PUBLISH_RETRY_POLICY,
                         ignore_result=True, **delay)
    except _broker_errors():
        logger.warning("studies.enqueue_failed", extra={"study_id": study_id, "task": task.name}, exc_info=True)
        return False
    return True


def enqueue_ingest(*, study_id: int, countdown_s: float | None = None) -> bool:
    """Send ``studies.ingest_study`` to the ``ingest`` queue, due one stable age (or ``countdown_s``) from now.

    The delay lets a study still being sent settle (:mod:`triage.studies.stability`): the message
    sent with the last instance finds it stable. False on a broker error.
    """
    from triage.pipeline.tasks import ingest_study
    from triage.studies.stability import stable_age

    delay_s = stable_age().total_seconds() if countdown_s is None else countdown_s
    return _send(ingest_study, study_id=study_id, queue=queue_of("ingest"), countdown_s=delay_s)


def enqueue_analysis(*, study_id: int) -> bool:
    """Send ``results.analyse_study`` (prepare, or resume a later stage) to the ``prepare`` queue; False on a broker error."""
    from triage.pipeline.tasks import analyse_study

    return _send(analyse_study, study_id=study_id, queue=queue_of("prepare"))


def enqueue_classify(*, study_id: int) -> bool:
    """Send ``results.classify_study`` (the model on prepared slices) to the ``gpu`` queue."""
    from triage.pipeline.tasks import classify_study

    return _send(classify_study, study_id=study_id, queue=queue_of("classify"))


def enqueue_finish(*, study_id: int) -> bool:
    """Send ``results.finish_study`` (quantify, render, store) to the ``finish`` queue."""
    from triage.pipeline.tasks import finish_study

    return _send(finish_study, study_id=study_id, queue=queue_of("finish"))


def enqueue_shadow_analysis(*, study_id: int, model_version_id: int) -> bool:
    """Send ``results.analyse_shadow`` (a candidate model on a ready study) to the ``gpu`` queue."""
    from triage.pipeline.tasks import analyse_shadow

    return _send(analyse_shadow, study_id=study_id, queue=queue_of("classify"), model_version_id=model_version_id)
