"""When a received study is complete enough to ingest: no new instance for the stable age.

A sender gives no sign that a study is complete (C-STORE associations, STOW-RS requests and
browser batches may each carry part of one), so, like Orthanc's ``StableAge``, a study is
ingested only once ``STUDY_STABLE_AGE_S`` seconds (``TRIAGE_STABLE_AGE_SECONDS``, default 20)
have passed without a new instance.
Every ingest message is sent with that delay (:func:`triage.pipeline.enqueue.enqueue_ingest`)
and the ingest of a study that is still receiving does nothing: the upload that made it
unstable sent a message of its own, due a stable age after its last instance, so the last
message always finds the study stable. Instances arriving after analysis re-open the study
(:mod:`triage.studies.services.receiving`), and it is ingested and analysed again.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings


def stable_age() -> timedelta:
    """Return how long a study must go without a new instance before it is ingested."""
    return timedelta(seconds=settings.STUDY_STABLE_AGE_S)


def is_stable(*, last_instance_received_at: datetime | None, now: datetime) -> bool:
    """Return whether no instance arrived within the stable age before ``now`` (none at all: stable)."""
    return last_instance_received_at is None or now - last_instance_received_at >= stable_age()
