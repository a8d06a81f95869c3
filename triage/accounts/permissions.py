"""Role checks for services and selectors; they never see a request.

A user who is not a member of the hospital gets ``NotFound`` (the hospital's data does not
exist for them); a member lacking the role gets ``PermissionDenied``.
"""
from django.core.exceptions import PermissionDenied

from django.db.models import QuerySet

from triage.accounts.models import Hospital, Membership, Role
from triage.accounts.tenancy import hospitals_visible_to
from triage.core.exceptions import NotFound

ROLE_REQUIRED_MSG = "This action needs the {roles} role at this hospital."

# Who may do what at a hospital: every role check names one of these.
ADMIN_ROLES = (Role.ADMIN,)
MEMBER_ROLES = (Role.ADMIN, Role.RADIOLOGIST, Role.CLINICIAN)  # any role at the hospital
UPLOAD_ROLES = (Role.RADIOLOGIST, Role.CLINICIAN, Role.ADMIN)
SIGN_ROLES = (Role.RADIOLOGIST,)
DECISION_ROLES = (Role.CLINICIAN,)
PCR_ROLES = (Role.CLINICIAN, Role.ADMIN)


def require_membership(*, user, hospital: Hospital) -> None:
    if not hospitals_visible_to(user=user).filter(id=hospital.id).exists():
        raise NotFound()


def acts_as_platform_admin(*, user) -> bool:
    """Return whether ``user`` has platform-admin powers now: a hospital-bound API token confines them to its hospital."""
    return bool(user.is_platform_admin) and getattr(user, "token_hospital_id", None) is None


def has_role(*, user, hospital: Hospital, roles: tuple[Role, ...]) -> bool:
    if Role.ADMIN in roles and acts_as_platform_admin(user=user):
        return True
    return Membership.objects.filter(user=user, hospital=hospital, role__in=roles).exists()


def require_role(*, user, hospital: Hospital, roles: tuple[Role, ...]) -> None:
    require_membership(user=user, hospital=hospital)
    if not has_role(user=user, hospital=hospital, roles=roles):
        raise PermissionDenied(ROLE_REQUIRED_MSG.format(roles=" or ".join(r.label for r in roles)))


def hospitals_with_role(*, user, roles: tuple[Role, ...]) -> QuerySet[Hospital]:
    """Return the visible hospitals where ``user`` holds one of ``roles`` (all visible ones for admin roles of a platform admin)."""
    visible = hospitals_visible_to(user=user)
    if Role.ADMIN in roles and acts_as_platform_admin(user=user):
        return visible
    return visible.filter(id__in=Membership.objects.filter(user=user, role__in=roles).values("hospital_id"))


def require_platform_admin(*, user) -> None:
    if not user.is_platform_admin:
        raise PermissionDenied("This action needs a platform administrator.")
