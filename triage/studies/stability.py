"""When a received study is complete enough to ingest: no new instance for the stable age.

A sender gives no sign that a study is complete (C-STORE associations, STOW-RS requests and
browser batches may each carry part of one), so, like Orthanc's ``StableAge``, a study is
ingested only once ``STUDY_STABLE_AGE_S`` seconds (``TRIAGE_STABLE_AGE_SECONDS``, default 20)
have passed without a new instance.
Every ingest message is sent with that delay (:func:`triage.pipeline.enqueue.enqueue_ingest`);
an ingest that still finds an instance younger than the stable age does nothing but ask to run
again when the rest of the stable age has passed (a message sent before the last instance, or a
worker configured with a longer stable age than the web process). Instances arriving after
analysis re-open the study (:mod:`triage.studies.services.receiving`), and it is ingested and
analysed again.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings


def stable_age() -> timedelta:
    """Return how long a study must go without a new instance before it is ingested."""
    return timedelta(seconds=settings.STUDY_STABLE_AGE_S)


def seconds_until_stable(*, last_instance_received_at: datetime | None, now: datetime) -> float:
    """Return how long until no instance arrived within the stable age (0 when that is so, or none arrived)."""
    if last_instance_received_at is None:
        return 0.0
    return max((last_instance_received_at + stable_age() - now).total_seconds(), 0.0)
