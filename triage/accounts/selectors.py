"""Reads of hospitals, memberships and tokens, always scoped to what the user may see."""
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from django.db.models import QuerySet

from triage.accounts.models import ApiToken, Hospital, Membership, User
from triage.accounts.permissions import ADMIN_ROLES, acts_as_platform_admin, hospitals_with_role, require_role
from triage.accounts.tenancy import get_visible, hospitals_visible_to
from triage.audit.audit_actions import AuditAction
from triage.audit.models import AuditEvent
from triage.audit.services import record_event
from triage.core.dates import within_days
from triage.core.exceptions import NotFound


def hospital_list(*, user: User) -> QuerySet[Hospital]:
    return hospitals_visible_to(user=user)


def hospital_get(*, user: User, hospital_uuid: UUID) -> Hospital:
    return get_visible(Hospital.objects.all(), user=user, hospital_field="", uuid=hospital_uuid)


def membership_list(*, user: User, hospital: Hospital) -> QuerySet[Membership]:
    require_role(user=user, hospital=hospital, roles=ADMIN_ROLES)
    return Membership.objects.filter(hospital=hospital).select_related("user").order_by("user__username", "role")


def membership_get(*, user: User, hospital: Hospital, membership_uuid: UUID) -> Membership:
    return get_visible(membership_list(user=user, hospital=hospital), user=user, uuid=membership_uuid)


def memberships_of(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("hospital").order_by("hospital__name", "role")


def token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).select_related("hospital").order_by("-created_at")


def token_get(*, user: User, token_uuid: UUID) -> ApiToken:
    token = token_list(user=user).filter(uuid=token_uuid).first()
    if token is None:
        raise NotFound()
    return token


@dataclass(frozen=True)
class AuditFilters:
    """Narrow the log: who (username prefix), what (action prefix), which object (id), when (dates, inclusive)."""

    actor: str = ""
    action: str = ""
    object_id: str = ""
    since: date | None = None
    until: date | None = None

    def apply(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if self.actor:
            events = events.filter(actor_username__istartswith=self.actor)
        if self.action:
            events = events.filter(action__startswith=self.action)
        if self.object_id:
            events = events.filter(object_id=self.object_id)
        return events.filter(within_days("at", first=self.since, last=self.until))


def audit_event_list(*, user: User, hospital: Hospital | None = None,
                     filters: AuditFilters | None = None) -> QuerySet[AuditEvent]:
    """List audit events of hospitals the user administers (every event for a platform admin); audit the read."""
    events = AuditEvent.objects.select_related("hospital")
    if not acts_as_platform_admin(user=user):
        events = events.filter(hospital__in=hospitals_with_role(user=user, roles=ADMIN_ROLES))
    if hospital is not None:
        events = events.filter(hospital=hospital)
    if filters is not None:
        events = filters.apply(events)
    record_event(actor=user, action=AuditAction.AUDIT_VIEWED, hospital=hospital)
    return events


def administered_hospital_get(*, user: User, hospital_uuid: UUID) -> Hospital:
    """Return a hospital the user administers (404 when not visible, 403 when not admin there)."""
    hospital = hospital_get(user=user, hospital_uuid=hospital_uuid)
    require_role(user=user, hospital=hospital, roles=ADMIN_ROLES)
    return hospital


def member_get(*, user: User, hospital: Hospital, username: str) -> User:
    """Return an existing user by username (any hospital's: an admin grants roles to colleagues by name)."""
    require_role(user=user, hospital=hospital, roles=ADMIN_ROLES)
    found = User.objects.filter(username__iexact=username).first()
    if found is None:
        raise NotFound("No user with this username.")
    return found


def member_of_hospital_get(*, user: User, hospital: Hospital, user_uuid: UUID) -> User:
    """Return a user holding a role at ``hospital``; anyone else is the same 404."""
    require_role(user=user, hospital=hospital, roles=ADMIN_ROLES)
    found = User.objects.filter(uuid=user_uuid, memberships__hospital=hospital).distinct().first()
    if found is None:
        raise NotFound()
    return found
