"""Short claim leases kept alive by a heartbeat while a worker works (STYLE B9, B17).

A worker that claims a study (ingest or analysis) sets ``Study.lease_until`` to
``now + CLAIM_LEASE`` and, while it works, a :class:`LeaseHeartbeat` thread moves it forward
every ``HEARTBEAT_INTERVAL``. A worker that dies (SIGKILL, OOM, a lost node) stops renewing,
so its claim is free to take ``CLAIM_LEASE`` later, whatever the study's size; a half-hour
lease sized for the slowest study is no longer needed.

Why these defaults (both from the environment, in seconds):

- ``TRIAGE_CLAIM_LEASE_SECONDS=30``: a crash costs the study at most this plus one sweep
  interval (beat runs the stuck-study sweep every 20 s) before another worker takes it.
- ``TRIAGE_HEARTBEAT_SECONDS=5``: six renewals per lease, so a live worker keeps its claim
  through a database hiccup of up to ~25 s (a renewal that fails is simply tried again at the
  next beat). A worker whose renewals all fail for a whole lease loses the claim; if another
  worker then takes the study over, the key on ``(study, model_version)`` still keeps one Result.

A renewal is conditional on the lease still being the one this worker set, so a claim taken
over by another worker is never extended by the old one: the heartbeat notices and stops.
"""
from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timedelta

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from triage.studies.models import Study

logger = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(seconds=int(os.environ.get("TRIAGE_CLAIM_LEASE_SECONDS", "30")))
HEARTBEAT_INTERVAL = timedelta(seconds=float(os.environ.get("TRIAGE_HEARTBEAT_SECONDS", "5")))


def renew_lease(*, study_id: int, held_until: datetime, lease: timedelta = CLAIM_LEASE,
                now: datetime | None = None) -> datetime | None:
    """Extend the claim whose lease is ``held_until`` to ``now + lease``; None if it is no longer ours."""
    new_until = (now or timezone.now()) + lease
    claimed = Study.objects.filter(id=study_id, lease_until=held_until,
                                   status__in=[Study.Status.RECEIVED, Study.Status.PROCESSING])
    renewed = claimed.update(lease_until=new_until)
    return new_until if renewed else None


class LeaseHeartbeat:
    """Renew one study's claim from a background thread for as long as the ``with`` block runs.

    ``lease_until`` always holds the lease this worker last set, for callers that give the
    claim back (``release_claim_after_transient_error``); ``lost`` turns true when another
    worker took the study over.
    """

    def __init__(self, *, study_id: int, lease_until: datetime, lease: timedelta = CLAIM_LEASE,
                 interval: timedelta = HEARTBEAT_INTERVAL):
        self.study_id, self.lease_until, self.lease, self.interval = study_id, lease_until, lease, interval
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-heartbeat-{study_id}", daemon=True)

    def __enter__(self) -> "LeaseHeartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval.total_seconds()):
                if not self._beat():
                    return
        finally:
            connection.close()  # this thread's own connection

    def _beat(self) -> bool:
        """Renew once; return False when the claim is gone (stop beating)."""
        try:
            renewed = renew_lease(study_id=self.study_id, held_until=self.lease_until, lease=self.lease)
        except DatabaseError:
            logger.warning("studies.lease_renewal_failed", extra={"study_id": self.study_id})
            close_old_connections()
            connection.close()  # the next beat opens a fresh connection
            return True
        if renewed is None:
            self.lost = True
            logger.warning("studies.lease_lost", extra={"study_id": self.study_id})
            return False
        self.lease_until = renewed
        return True
