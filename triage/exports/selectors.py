"""Reads of export destinations and the export log, scoped to hospitals the user administers."""
from uuid import UUID

from django.db.models import QuerySet

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import ADMIN_ROLES, require_role
from triage.accounts.tenancy import scope_to_user
from triage.audit.services import record_event
from triage.core.exceptions import NotFound
from triage.exports.audit_actions import ExportAction
from triage.exports.models import Destination, ExportJob, ExportSettings, SendOn
from triage.studies.selectors import study_get


def destination_list(*, user: User, hospital: Hospital) -> QuerySet[Destination]:
    require_role(user=user, hospital=hospital, roles=ADMIN_ROLES)
    return Destination.objects.filter(hospital=hospital).select_related("hospital").order_by("name")


def destination_get(*, user: User, hospital: Hospital, destination_uuid: UUID) -> Destination:
    destination = destination_list(user=user, hospital=hospital).filter(uuid=destination_uuid).first()
    if destination is None:
        raise NotFound()
    return destination


def send_on_of(*, hospital_id: int) -> str:
    """When a hospital's results are exported (system use); sign-off when it never chose, so no
    unreviewed result leaves the platform unasked."""
    return (ExportSettings.objects.filter(hospital_id=hospital_id).values_list("send_on", flat=True).first()
            or SendOn.SIGNED)


def send_on_get(*, user: User, hospital: Hospital) -> str:
    require_role(user=user, hospital=hospital, roles=ADMIN_ROLES)
    return send_on_of(hospital_id=hospital.id)


def hospital_export_log(*, user: User, hospital: Hospital, study_uuid: UUID | None = None,
                        limit: int = 50) -> list[ExportJob]:
    """Return the hospital's latest exports (of one study when given), newest first; audit the read.

    The rows name studies (accession numbers), so reading them is audited like the study's own log.
    """
    require_role(user=user, hospital=hospital, roles=ADMIN_ROLES)
    jobs = ExportJob.objects.filter(destination__hospital=hospital).select_related("destination", "study")
    if study_uuid is not None:
        jobs = jobs.filter(study__uuid=study_uuid)
    rows = list(jobs.order_by("-created_at", "-id")[:limit])
    record_event(actor=user, action=ExportAction.LOG_VIEWED, hospital=hospital, target=hospital,
                 extra={"study": str(study_uuid) if study_uuid else None, "rows": len(rows)})
    return rows


def export_log(*, user: User, study_uuid: UUID) -> QuerySet[ExportJob]:
    """Return every export of a study, newest first (its hospital's admins); audit the read."""
    study = study_get(user=user, study_uuid=study_uuid)
    require_role(user=user, hospital=study.hospital, roles=ADMIN_ROLES)
    record_event(actor=user, action=ExportAction.LOG_VIEWED, hospital=study.hospital, target=study)
    return ExportJob.objects.filter(study=study).select_related("destination", "study").order_by("-created_at", "-id")


def export_job_get(*, user: User, job_uuid: UUID) -> ExportJob:
    """Fetch one export job of a visible hospital; another hospital's job is the same 404 as none."""
    jobs = scope_to_user(ExportJob.objects.select_related("destination__hospital", "study"), user=user,
                         hospital_field="destination__hospital")
    job = jobs.filter(uuid=job_uuid).first()
    if job is None:
        raise NotFound()
    return job
