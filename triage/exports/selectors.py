"""Reads of export destinations and the export log, scoped to hospitals the user administers."""
from uuid import UUID

from django.db.models import QuerySet

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import ADMIN_ROLES, require_role
from triage.accounts.tenancy import scope_to_user
from triage.audit.services import record_event
from triage.core.exceptions import NotFound
from triage.exports.audit_actions import ExportAction
from triage.exports.models import Destination, ExportJob
from triage.studies.selectors import study_get


def destination_list(*, user: User, hospital: Hospital) -> QuerySet[Destination]:
    require_role(user=user, hospital=hospital, roles=ADMIN_ROLES)
    return Destination.objects.filter(hospital=hospital).select_related("hospital").order_by("name")


def destination_get(*, user: User, hospital: Hospital, destination_uuid: UUID) -> Destination:
    destination = destination_list(user=user, hospital=hospital).filter(uuid=destination_uuid).first()
    if destination is None:
        raise NotFound()
    return destination


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
