"""Every write of result exports: destinations (hospital admins) and the export jobs (the log).

Jobs are created by :func:`create_due_jobs`: for one study as soon as its AI result or a
sign-off commits (:func:`export_after_commit`, on the ``study_changed`` signal, so neither the
analysis nor the sign-off code has to know about exports), and for every study by a beat sweep
that catches what a lost message missed. Jobs are reopened by an admin's :func:`request_resend`.
The same sweep hands :func:`due_job_ids` to the send task: new jobs, jobs whose backoff
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
from triage.gateway.echo import EchoResult, c_echo
from triage.exports.audit_actions import ExportAction
from triage.exports.models import Destination, ExportJob, ExportSettings, SendOn
from triage.exports.selectors import send_on_of
from triage.reports.models import Report
from triage.results.selectors import current_results
from triage.studies.models import Study

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
SEND_LEASE = timedelta(minutes=2)
RETRY_BASE_S = 30
RETRY_MAX_S = 3600
MISSING_ADDRESS_MSG = "A {kind} destination needs {fields}."
UNKNOWN_SEND_ON_MSG = "Send on is either ai_ready or signed."
NOT_SENT_YET_MSG = "This export is still being sent; re-send it once it has finished."


def retry_delay_s(attempts: int) -> int:
    """Exponential backoff: 30 s, 60 s, 120 s, … capped at an hour."""
    return min(RETRY_BASE_S * 2 ** max(attempts - 1, 0), RETRY_MAX_S)


# --- destinations and the hospital's setting ---------------------------------------------------

ADDRESS_FIELDS = {Destination.Kind.CSTORE: ("ae_title", "host", "port"), Destination.Kind.STOW: ("url",)}


def _check_address(*, kind: str, given: dict) -> None:
    required = ADDRESS_FIELDS[kind]
    if missing := [f for f in required if not given[f]]:
        raise DomainError(MISSING_ADDRESS_MSG.format(kind=kind, fields=", ".join(required)), extra={"missing": missing})


@transaction.atomic
def create_destination(*, actor: User, hospital: Hospital, name: str, kind: str,
                       ae_title: str = "", host: str = "", port: int | None = None, url: str = "",
                       username: str = "", password: str = "",
                       send_results_since: datetime | None = None) -> Destination:
    """Add an export destination to ``hospital`` (its admins only); the password is stored encrypted.

    Only results produced (``ai_ready``) or reports signed (``signed``) from ``send_results_since``
    on are sent: now by default, an earlier time to back-fill on purpose.
    """
    require_role(user=actor, hospital=hospital, roles=ADMIN_ROLES)
    given = {"ae_title": ae_title.strip(), "host": host.strip(), "port": port, "url": url.strip()}
    _check_address(kind=kind, given=given)
    destination = Destination(hospital=hospital, name=name, kind=kind, username=username,
                              password_encrypted=secrets.encrypt(password),
                              send_results_since=send_results_since or timezone.now(), **given)
    destination.full_clean()
    destination.save()
    record_event(actor=actor, action=ExportAction.DESTINATION_CREATED, hospital=hospital, target=destination,
                 extra={"name": name, "kind": kind, "has_password": bool(password),
                        "send_results_since": destination.send_results_since.isoformat()})
    return destination


@transaction.atomic
def update_destination(*, actor: User, destination: Destination, name: str, ae_title: str = "", host: str = "",
                       port: int | None = None, url: str = "", username: str = "", password: str | None = None,
                       is_active: bool | None = None) -> Destination:
    """Edit a destination's name, address and credentials (its kind is fixed: make a new one instead).

    ``password=None`` keeps the stored password (the form never shows it, so an empty field
    means "unchanged"); ``""`` clears it. The audit records which fields changed, never a password.
    """
    require_role(user=actor, hospital=destination.hospital, roles=ADMIN_ROLES)
    given = {"ae_title": ae_title.strip(), "host": host.strip(), "port": port, "url": url.strip()}
    _check_address(kind=destination.kind, given=given)
    wanted = {"name": name.strip(), "username": username.strip(), **given}
    if destination.kind == Destination.Kind.CSTORE:
        wanted["url"] = ""
    else:
        wanted.update(ae_title="", host="", port=None)
    if is_active is not None:
        wanted["is_active"] = is_active
    changes = {field: {"old": getattr(destination, field), "new": value}
               for field, value in wanted.items() if getattr(destination, field) != value}
    for field, value in wanted.items():
        setattr(destination, field, value)
    if password is not None:
        destination.password_encrypted = secrets.encrypt(password)
        changes["password"] = "set" if password else "cleared"
    if not changes:
        return destination
    destination.full_clean()
    destination.save()
    record_event(actor=actor, action=ExportAction.DESTINATION_UPDATED, hospital=destination.hospital,
                 target=destination, extra={"changes": changes})
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


@transaction.atomic
def delete_destination(*, actor: User, destination: Destination) -> bool:
    """Delete a destination nothing was ever exported to; one with an export log is deactivated instead.

    Return ``True`` when it was deleted. The export log says what reached which PACS, which a
    hospital must still be able to answer after the PACS is retired, so it is never dropped.
    """
    require_role(user=actor, hospital=destination.hospital, roles=ADMIN_ROLES)
    if destination.jobs.exists():
        deactivate_destination(actor=actor, destination=destination)
        return False
    record_event(actor=actor, action=ExportAction.DESTINATION_DELETED, hospital=destination.hospital,
                 target=destination, extra={"name": destination.name, "kind": destination.kind})
    destination.delete()
    return True


def echo_destination(*, actor: User, destination: Destination) -> EchoResult:
    """Test a destination (C-ECHO for C-STORE peers, an authenticated QIDO for STOW-RS); audit the test."""
    require_role(user=actor, hospital=destination.hospital, roles=ADMIN_ROLES)
    if destination.kind == Destination.Kind.CSTORE:
        result = c_echo(host=destination.host, port=destination.port, called_ae=destination.ae_title)
    else:
        try:
            result = EchoResult(True, senders.stow_check(
                url=destination.url, username=destination.username,
                password=secrets.decrypt(destination.password_encrypted)))
        except (senders.SendError, ValueError) as exc:
            result = EchoResult(False, getattr(exc, "message", str(exc)))
    record_event(actor=actor, action=ExportAction.DESTINATION_ECHOED, hospital=destination.hospital,
                 target=destination, extra={"ok": result.ok, "message": result.message})
    return result


@transaction.atomic
def set_send_on(*, actor: User, hospital: Hospital, send_on: str) -> ExportSettings:
    """Choose when ``hospital``'s results are exported: when the AI result is ready or on sign-off."""
    require_role(user=actor, hospital=hospital, roles=ADMIN_ROLES)
    if send_on not in SendOn.values:
        raise DomainError(UNKNOWN_SEND_ON_MSG, extra={"field": "send_on"})
    setting, _ = ExportSettings.objects.select_for_update().get_or_create(hospital=hospital)
    if setting.send_on != send_on:
        old, setting.send_on = setting.send_on, send_on
        setting.save(update_fields=["send_on", "updated_at"])
        record_event(actor=actor, action=ExportAction.SETTINGS_CHANGED, hospital=hospital, target=hospital,
                     extra={"send_on": {"old": old, "new": send_on}})
    return setting


# --- jobs ------------------------------------------------------------------------------------

def _latest_report(field: str):
    return Subquery(Report.objects.filter(study=OuterRef("pk")).order_by("-version").values(field)[:1])


def create_due_jobs(*, study_ids: list[int] | None = None) -> list[int]:
    """Create the jobs that are due (of ``study_ids`` only, when given) and return their ids.

    Due, for each active destination: its hospital's studies with a current result, at their
    latest revision (the report version, 0 unsigned) — a hospital sending on ``ai_ready`` sends
    every revision from the AI result on, one sending on ``signed`` from the first sign-off —
    when that result (``ai_ready``) or sign-off (``signed``) is not older than the destination's
    ``send_results_since``, and no job exists for that (destination, study, revision). Safe to
    run as often as one likes.
    """
    created = []
    destinations = Destination.objects.filter(is_active=True)
    if study_ids is not None:
        destinations = destinations.filter(hospital__studies__id__in=study_ids).distinct()
    for destination in destinations:
        studies = (Study.objects.filter(hospital_id=destination.hospital_id)
                   .annotate(revision=Coalesce(_latest_report("version"), 0), signed_at=_latest_report("signed_at"),
                             result_at=Subquery(current_results().filter(study=OuterRef("pk"))
                                                .values("created_at")[:1]))
                   .filter(result_at__isnull=False))
        if study_ids is not None:
            studies = studies.filter(id__in=study_ids)
        since = destination.send_results_since
        if send_on_of(hospital_id=destination.hospital_id) == SendOn.SIGNED:
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


def export_after_commit(*, study_id: int) -> None:
    """Once the current transaction commits, create and send the study's due jobs (a Celery task).

    ``robust``: a broker outage must not undo the result or sign-off that triggered it; the
    sweep then creates and sends the same jobs within 30 s.
    """
    transaction.on_commit(partial(_enqueue_study_export, study_id=study_id), robust=True)


def _enqueue_study_export(*, study_id: int) -> None:
    from triage.exports.tasks import export_study

    export_study.delay(study_id=study_id)


def _enqueue_send(*, job_id: int) -> None:
    from triage.exports.tasks import send_export as task

    task.delay(job_id=job_id)
