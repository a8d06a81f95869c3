"""Role checks for services and selectors; they never see a request.

A user who is not a member of the hospital gets ``NotFound`` (the hospital's data does not
exist for them); a member lacking the role gets ``PermissionDenied``.
"""
from django.core.exceptions import PermissionDenied

from triage.accounts.models import Hospital, Membership, Role
from triage.accounts.tenancy import hospitals_visible_to
from triage.core.exceptions import NotFound

ROLE_REQUIRED_MSG = "This action needs the {roles} role at this hospital."


def require_membership(*, user, hospital: Hospital) -> None:
    if not hospitals_visible_to(user=user).filter(id=hospital.id).exists():
        raise NotFound()


def has_role(*, user, hospital: Hospital, roles: tuple[Role, ...]) -> bool:
    if Role.ADMIN in roles and user.is_platform_admin and getattr(user, "token_hospital_id", None) is None:
        return True
    return Membership.objects.filter(user=user, hospital=hospital, role__in=roles).exists()


def require_role(*, user, hospital: Hospital, roles: tuple[Role, ...]) -> None:
    require_membership(user=user, hospital=hospital)
    if not has_role(user=user, hospital=hospital, roles=roles):
        raise PermissionDenied(ROLE_REQUIRED_MSG.format(roles=" or ".join(r.label for r in roles)))


def require_platform_admin(*, user) -> None:
    if not user.is_platform_admin:
        raise PermissionDenied("This action needs a platform administrator.")
