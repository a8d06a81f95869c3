"""Every write of result exports: destinations (hospital admins) and the export jobs (the log).

Jobs are created by :func:`create_due_jobs` (a beat sweep, so neither the analysis nor the
sign-off code has to know about exports) and reopened by an admin's :func:`request_resend`. The
same sweep hands :func:`due_job_ids` to the send task: new jobs, jobs whose backoff
(``next_attempt_at``) has passed, and jobs whose worker died (lease expired). A job is claimed
with a conditional update carrying a lease, sent, and marked ``sent`` or, after
``MAX_ATTEMPTS`` transient failures or one permanent failure, ``failed`` with the reason.
Because the schedule lives in the database, a broker outage delays a send but loses none.
Loops cannot happen: a revision is sent once per destination (a unique constraint), and the
platform's own C-STORE SCP negotiates CT Image Storage only, so a PACS that forwards our SR, SEG
or key images back to us is refused.
"""
from __future__ import annotations

import logging
from functools import partial
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import ADMIN_ROLES, require_role
from triage.audit.services import record_event
from triage.core.exceptions import DomainError
from triage.exports import secrets, senders
from triage.exports.audit_actions import ExportAction
from triage.exports.models import Destination, ExportJob
from triage.reports.models import Report
from triage.results.selectors import current_results
from triage.studies.models import Study

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
SEND_LEASE = timedelta(minutes=2)
RETRY_BASE_S = 30
RETRY_MAX_S = 3600
MISSING_ADDRESS_MSG = "A {kind} destination needs {fields}."
NOT_SENT_YET_MSG = "This export is still being sent; re-send it once it has finished."


def retry_delay_s(attempts: int) -> int:
    """Exponential backoff: 30 s, 60 s, 120 s, … capped at an hour."""
    return min(RETRY_BASE_S * 2 ** max(attempts - 1, 0), RETRY_MAX_S)


# --- destinations ----------------------------------------------------------------------------

@transaction.atomic
def create_destination(*, actor: User, hospital: Hospital, name: str, kind: str, send_on: str,
                       ae_title: str = "", host: str = "", port: int | None = None, url: str = "",
                       username: str = "", password: str = "",
                       send_results_since: datetime | None = None) -> Destination:
    """Add an export destination to ``hospital`` (its admins only); the password is stored encrypted.

    Only results produced (``ai_ready``) or reports signed (``signed``) from ``send_results_since``
    on are sent: now by default, an earlier time to back-fill on purpose.
    """
    require_role(user=actor, hospital=hospital, roles=ADMIN_ROLES)
    required = {Destination.Kind.CSTORE: ("ae_title", "host", "port"), Destination.Kind.STOW: ("url",)}[kind]
    given = {"ae_title": ae_title.strip(), "host": host.strip(), "port": port, "url": url.strip()}
    if missing := [f for f in required if not given[f]]:
        raise DomainError(MISSING_ADDRESS_MSG.format(kind=kind, fields=", ".join(required)), extra={"missing": missing})
    destination = Destination(hospital=hospital, name=name, kind=kind, send_on=send_on, username=username,
                              password_encrypted=secrets.encrypt(password),
                              send_results_since=send_results_since or timezone.now(), **given)
    destination.full_clean()
    destination.save()
    record_event(actor=actor, action=ExportAction.DESTINATION_CREATED, hospital=hospital, target=destination,
                 extra={"name": name, "kind": kind, "send_on": send_on, "has_password": bool(password),
                        "send_results_since": destination.send_results_since.isoformat()})
    return destination


@transaction.atomic
def deactivate_destination(*, actor: User, destination: Destination) -> Destination:
    """Stop sending to ``destination``; a no-op when it is already inactive."""
    require_role(user=actor, hospital=destination.hospital, roles=ADMIN_ROLES)
    if not destination.is_active:
        return destination
    destination.is_active = False
    destination.save(update_fields=["is_active"])
    record_event(actor=actor, action=ExportAction.DESTINATION_DEACTIVATED, hospital=destination.hospital,
                 target=destination, extra={"is_active": {"old": True, "new": False}})
    return destination


def echo_destination(*, actor: User, destination: Destination) -> tuple[bool, str]:
    """Test a destination (C-ECHO for C-STORE peers, an authenticated QIDO for STOW-RS); audit the test."""
    require_role(user=actor, hospital=destination.hospital, roles=ADMIN_ROLES)
    try:
        if destination.kind == Destination.Kind.CSTORE:
            ok, message = True, senders.cecho(host=destination.host, port=destination.port,
                                              called_ae=destination.ae_title)
        else:
            ok, message = True, senders.stow_check(url=destination.url, username=destination.username,
                                                   password=secrets.decrypt(destination.password_encrypted))
    except (senders.SendError, ValueError) as exc:
        ok, message = False, getattr(exc, "message", str(exc))
    record_event(actor=actor, action=ExportAction.DESTINATION_ECHOED, hospital=destination.hospital,
                 target=destination, extra={"ok": ok, "message": message})
    return ok, message


# --- jobs ------------------------------------------------------------------------------------

def _latest_report(field: str):
    return Subquery(Report.objects.filter(study=OuterRef("pk")).order_by("-version").values(field)[:1])


def create_due_jobs() -> list[int]:
    """Create the jobs that are due and return their ids (the sweep sends them).

    Due, for each active destination: its hospital's studies with a current result, at their
    latest revision (the report version, 0 unsigned) — ``ai_ready`` destinations get every
    revision from the AI result on, ``signed`` ones from the first sign-off — when that result
    (``ai_ready``) or sign-off (``signed``) is not older than ``send_results_since``, and no job
    exists for that (destination, study, revision). Safe to run as often as one likes.
    """
    created = []
    for destination in Destination.objects.filter(is_active=True):
        studies = (Study.objects.filter(hospital_id=destination.hospital_id)
                   .annotate(revision=Coalesce(_latest_report("version"), 0), signed_at=_latest_report("signed_at"),
                             result_at=Subquery(current_results().filter(study=OuterRef("pk"))
                                                .values("created_at")[:1]))
                   .filter(result_at__isnull=False))
        since = destination.send_results_since
        if destination.send_on == Destination.SendOn.SIGNED:
            studies = studies.filter(revision__gte=1, signed_at__gte=since)
        else:
            studies = studies.filter(result_at__gte=since)
        studies = studies.exclude(Exists(ExportJob.objects.filter(destination=destination, study=OuterRef("pk"),
                                                                  revision=OuterRef("revision"))))
        for study_id, revision in studies.values_list("id", "revision"):
            job, was_created = ExportJob.objects.get_or_create(destination=destination, study_id=study_id,
                                                               revision=revision)
            if was_created:
                created.append(job.id)
    return created


def due_job_ids(*, now: datetime | None = None) -> list[int]:
    """Return the jobs to send now: pending past their backoff, or sending with an expired lease."""
    now = now or timezone.now()
    pending = Q(status=ExportJob.Status.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    stale = Q(status=ExportJob.Status.SENDING, lease_until__lt=now)
    return list(ExportJob.objects.filter(pending | stale, destination__is_active=True).values_list("id", flat=True))


def _claim(job_id: int, *, now: datetime) -> ExportJob | None:
    claimable = Q(status=ExportJob.Status.PENDING) | Q(status=ExportJob.Status.SENDING, lease_until__lt=now)
    if not ExportJob.objects.filter(claimable, id=job_id).update(status=ExportJob.Status.SENDING,
                                                                 lease_until=now + SEND_LEASE):
        return None
    return ExportJob.objects.select_related("destination__hospital", "study").get(id=job_id)


def send_export(*, job_id: int, now: datetime | None = None) -> ExportJob | None:
    """Build and send one job's objects; return the job, or ``None`` if it was not claimable.

    A transient failure with attempts left returns the job ``pending`` with ``next_attempt_at``
    set by :func:`retry_delay_s`; the sweep sends it again then.
    """
    from triage.exports.objects import build_result_objects

    now = now or timezone.now()
    job = _claim(job_id, now=now)
    if job is None:
        return None
    destination = job.destination
    try:
        objects = build_result_objects(study=job.study)
        if destination.kind == Destination.Kind.CSTORE:
            senders.cstore_send(objects.datasets, host=destination.host, port=destination.port,
                                called_ae=destination.ae_title)
        else:
            senders.stow_send(objects.datasets, url=destination.url, username=destination.username,
                              password=secrets.decrypt(destination.password_encrypted))
    except senders.SendError as exc:
        return _record_failure(job, message=exc.message, transient=exc.transient, now=now)
    except (DomainError, ValueError) as exc:
        return _record_failure(job, message=getattr(exc, "message", str(exc)), transient=False, now=now)
    with transaction.atomic():
        job.status, job.sent_at, job.last_error = ExportJob.Status.SENT, timezone.now(), ""
        job.attempts += 1
        job.sop_instance_uids = objects.sop_instance_uids
        job.lease_until = None
        job.save(update_fields=["status", "sent_at", "last_error", "attempts", "sop_instance_uids", "lease_until"])
        record_event(actor=None, action=ExportAction.SENT, hospital=destination.hospital, target=job.study,
                     extra={"job": str(job.uuid), "destination": str(destination.uuid), "revision": job.revision,
                            "objects": len(objects.datasets)})
    logger.info("exports.sent", extra={"job_id": job.id, "destination_id": destination.id})
    return job


def _record_failure(job: ExportJob, *, message: str, transient: bool, now: datetime) -> ExportJob:
    job.attempts += 1
    job.last_error = message[:500]
    job.lease_until = None
    gives_up = not transient or job.attempts >= MAX_ATTEMPTS
    job.status = ExportJob.Status.FAILED if gives_up else ExportJob.Status.PENDING
    job.next_attempt_at = None if gives_up else now + timedelta(seconds=retry_delay_s(job.attempts))
    with transaction.atomic():
        job.save(update_fields=["attempts", "last_error", "lease_until", "status", "next_attempt_at"])
        if gives_up:
            record_event(actor=None, action=ExportAction.FAILED, hospital=job.destination.hospital, target=job.study,
                         extra={"job": str(job.uuid), "attempts": job.attempts, "reason": job.last_error})
    logger.warning("exports.send_failed", extra={"job_id": job.id, "attempts": job.attempts, "final": gives_up})
    return job


@transaction.atomic
def request_resend(*, actor: User, job: ExportJob) -> ExportJob:
    """Send a job's objects again (admins): the same revision, so the peer replaces identical UIDs."""
    require_role(user=actor, hospital=job.destination.hospital, roles=ADMIN_ROLES)
    if job.status in (ExportJob.Status.PENDING, ExportJob.Status.SENDING):
        raise DomainError(NOT_SENT_YET_MSG)
    old = job.status
    job.status, job.attempts, job.last_error, job.next_attempt_at = ExportJob.Status.PENDING, 0, "", None
    job.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
    record_event(actor=actor, action=ExportAction.RESEND_REQUESTED, hospital=job.destination.hospital,
                 target=job.study, extra={"job": str(job.uuid), "status": {"old": old, "new": job.status}})
    transaction.on_commit(partial(_enqueue_send, job_id=job.id))
    return job


def _enqueue_send(*, job_id: int) -> None:
    from triage.exports.tasks import send_export as task

    task.delay(job_id=job_id)
