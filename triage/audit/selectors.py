"""Reads of the audit log: hospital admins see their hospitals' events, platform admins all."""
from django.db.models import QuerySet

from triage.accounts.models import Hospital, Membership, Role, User
from triage.audit.audit_actions import AuditAction
from triage.audit.models import AuditEvent
from triage.audit.services import record_event


def audit_event_list(*, user: User, hospital: Hospital | None = None) -> QuerySet[AuditEvent]:
    """List events of hospitals the user administers (all events for a platform admin)."""
    events = AuditEvent.objects.select_related("hospital")
    token_bound = getattr(user, "token_hospital_id", None) is not None
    if not user.is_platform_admin or token_bound:
        administered = Membership.objects.filter(user=user, role=Role.ADMIN).values("hospital_id")
        if token_bound:
            administered = administered.filter(hospital_id=user.token_hospital_id)
        events = events.filter(hospital_id__in=administered)
    if hospital is not None:
        events = events.filter(hospital=hospital)
    record_event(actor=user, action=AuditAction.AUDIT_VIEWED, hospital=hospital)
    return events
