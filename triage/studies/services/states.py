"""The study state machine and the claims workers hold on a study; each transition one function, audited.

A transition is a conditional UPDATE, so two workers can never both make it::

    received ──ingest──> queued ──claim──> processing ──> ready
        │                  │                    │
        └──────────────────┴────────────────────┴──> failed(reason)
    failed | ready ──reprocess (hospital admin)──> queued (received when no series was selected)

(``received`` is entered on upload: :mod:`triage.studies.services.receiving`.)
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from functools import partial

from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from triage.accounts.models import User
from triage.accounts.permissions import ADMIN_ROLES, require_role
from triage.audit.services import record_event
from triage.core.exceptions import DomainError
from triage.core.signals import study_changed
from triage.studies.audit_actions import StudyAction
from triage.studies.exceptions import IllegalStudyTransition, StudyNotFound
from triage.core import object_store
from triage.studies.models import Study

logger = logging.getLogger(__name__)

UNEXPECTED_FAILURE_MSG = "Processing failed unexpectedly ({error}); an administrator can reprocess the study."

Status = Study.Status


def _transition(*, study_id: int, allowed_from: Q, new: str, action: str, actor: User | None = None,
                now: datetime, extra: dict | None = None, **fields) -> Study | None:
    """Apply ``status → new`` if the row still matches ``allowed_from``; audit it; None if not."""
    with transaction.atomic():
        row = Study.objects.filter(id=study_id).values_list("status", "analysis_blob").first()
        if row is None:
            raise StudyNotFound()
        old, old_blob = row
        updated = Study.objects.filter(allowed_from, id=study_id).update(status=new, status_changed_at=now, **fields)
        if not updated:
            return None
        if old_blob and fields.get("analysis_blob", old_blob) != old_blob:
            # A stage's output nobody will read now (the study is done, failed or analysed afresh).
            transaction.on_commit(partial(object_store.delete_content, [old_blob]))
        study = Study.objects.select_related("hospital").get(id=study_id)
        record_event(actor=actor, action=action, hospital=study.hospital, target=study,
                     extra={"old": old, "new": new} | (extra or {}))
        study_changed.send(sender="studies", study=study)
        return study


def _require_transition(study: Study | None, *, study_id: int, new: str) -> Study:
    """Return ``study``; when the transition did not apply: a silent no-op if already ``new``, else raise."""
    if study is not None:
        return study
    current = Study.objects.get(id=study_id)
    if current.status == new:
        return current
    raise IllegalStudyTransition(old=current.status, new=new)


def claim_study_for_processing(*, study_id: int, lease: timedelta, now: datetime | None = None) -> Study | None:
    """Claim a ``queued`` study (or one whose prepare lease expired) for ``lease``; None if not claimable.

    The claim is the analysis's first stage, ``prepare`` (triage/studies/services/stages.py);
    a study past it is claimed stage by stage there.
    """
    now = now or timezone.now()
    preparing = Q(analysis_stage__in=["", Study.AnalysisStage.PREPARE])
    claimable = Q(status=Status.QUEUED) | (Q(status=Status.PROCESSING, lease_until__lt=now) & preparing)
    try:
        return _transition(study_id=study_id, allowed_from=claimable, new=Status.PROCESSING,
                           action=StudyAction.PROCESSING, now=now, lease_until=now + lease,
                           analysis_stage=Study.AnalysisStage.PREPARE, analysis_blob="")
    except StudyNotFound:
        logger.info("studies.claim_missing", extra={"study_id": study_id})
        return None


def mark_study_queued(*, study_id: int, now: datetime | None = None, extra: dict | None = None,
                      expect_last_instance_at: datetime | None = None) -> Study:
    """Move ``received → queued`` (ready for analysis); with ``expect_last_instance_at``, only if no instance came since."""
    now = now or timezone.now()
    allowed = Q(status=Status.RECEIVED)
    if expect_last_instance_at is not None:
        allowed &= Q(last_instance_received_at=expect_last_instance_at)
    study = _transition(study_id=study_id, allowed_from=allowed, new=Status.QUEUED, action=StudyAction.QUEUED,
                        now=now, extra=extra, lease_until=None)
    return _require_transition(study, study_id=study_id, new=Status.QUEUED)


def mark_study_ready(*, study_id: int, now: datetime | None = None) -> Study:
    """Move ``processing → ready`` (a no-op if it already is ``ready``)."""
    now = now or timezone.now()
    study = _transition(study_id=study_id, allowed_from=Q(status=Status.PROCESSING), new=Status.READY,
                        action=StudyAction.READY, now=now, lease_until=None, analysis_stage="", analysis_blob="")
    return _require_transition(study, study_id=study_id, new=Status.READY)


def mark_study_failed(*, study_id: int, reason: str, now: datetime | None = None) -> Study:
    """Move ``received | queued | processing → failed`` with a readable reason (no patient data)."""
    now = now or timezone.now()
    reason = (reason or "Unknown failure.")[:500]
    active = Q(status__in=[Status.RECEIVED, Status.QUEUED, Status.PROCESSING])
    study = _transition(study_id=study_id, allowed_from=active, new=Status.FAILED, action=StudyAction.FAILED,
                        now=now, extra={"reason": reason}, failure_reason=reason, lease_until=None,
                        analysis_stage="", analysis_blob="")
    return _require_transition(study, study_id=study_id, new=Status.FAILED)


def mark_study_failed_after_error(*, study_id: int, error: BaseException) -> Study | None:
    """Fail a study after a task gave up on it; domain errors keep their message, others name their type."""
    reason = error.message if isinstance(error, DomainError) else UNEXPECTED_FAILURE_MSG.format(
        error=type(error).__name__)
    try:
        return mark_study_failed(study_id=study_id, reason=reason)
    except (StudyNotFound, IllegalStudyTransition):
        logger.info("studies.fail_skipped", extra={"study_id": study_id})
        return None


def reprocess_study(*, actor: User, study: Study, now: datetime | None = None) -> Study:
    """Move a ``failed`` or ``ready`` study back to ``queued`` (``received`` when no series was selected).

    Hospital admins only. The returned study's status names the step to run next.
    """
    require_role(user=actor, hospital=study.hospital, roles=ADMIN_ROLES)
    now = now or timezone.now()
    new = Status.QUEUED if study.selected_series_id else Status.RECEIVED
    updated = _transition(study_id=study.id, allowed_from=Q(status__in=[Status.FAILED, Status.READY]), new=new,
                          action=StudyAction.REPROCESSED, actor=actor, now=now, failure_reason="",
                          lease_until=None)
    if updated is None:
        raise IllegalStudyTransition(old=Study.objects.get(id=study.id).status, new=Status.QUEUED)
    return updated


def requeue_ready_studies(*, actor: User | None, action: str, now: datetime | None = None) -> list[int]:
    """Move every ``ready`` study back to ``queued`` (e.g. for a new model), auditing ``action``; return their ids."""
    now = now or timezone.now()
    requeued = []
    for study_id in Study.objects.filter(status=Status.READY).values_list("id", flat=True).iterator():
        if _transition(study_id=study_id, allowed_from=Q(status=Status.READY), new=Status.QUEUED, action=action,
                       actor=actor, now=now, lease_until=None) is not None:
            requeued.append(study_id)
    return requeued


def release_claim_after_transient_error(*, study_id: int, lease_until: datetime, attempts: int = 5,
                                        wait_s: float = 1.0) -> bool:
    """End this worker's own claim (the lease it set to ``lease_until``) so the task's retry can take it at once.

    Without this a retry after a database restart finds its own claim still valid and waits for
    it to expire (15 min ingest, 30 min analysis). Best effort: the database may still be down,
    and then the lease runs out as a dead worker's would. A claim taken over since is left alone.
    """
    for attempt in range(attempts):
        try:
            if not connection.in_atomic_block:
                connection.close()  # the broken connection; the query below opens a new one
            Study.objects.filter(id=study_id, lease_until=lease_until).update(lease_until=timezone.now())
            return True
        except DatabaseError:
            time.sleep(wait_s)
    logger.warning("studies.claim_release_failed", extra={"study_id": study_id})
    return False
