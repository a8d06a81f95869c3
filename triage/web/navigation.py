"""One navigation for every page: what each role may use, and the hospital the user is working in.

The current hospital lives in the session (set by the switcher). It only narrows what pages
show by default; tenancy is still decided by the selectors on every request.
"""
from dataclasses import dataclass
from uuid import UUID

from django.db.models import QuerySet
from django.urls import reverse

from triage.accounts.models import Hospital, Membership, Role, User
from triage.accounts.permissions import (ADMIN_ROLES, MEMBER_ROLES, UPLOAD_ROLES, acts_as_platform_admin,
                                        hospitals_with_role)
from triage.accounts.tenancy import hospitals_visible_to
from triage.worklist.views import CURRENT_HOSPITAL_SESSION_KEY as SESSION_HOSPITAL_KEY

WORKLIST_ROLES = (Role.RADIOLOGIST, Role.ADMIN)  # who reads from the worklist (any member may open it)


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    section: str  # the first path segment its pages live under, for aria-current


def roles_of(*, user: User, hospital: Hospital | None = None) -> set[str]:
    """Return the roles the user holds (at ``hospital``, or anywhere); a platform admin holds all."""
    if acts_as_platform_admin(user=user):
        return set(Role.values)
    memberships = Membership.objects.filter(user=user)
    if hospital is not None:
        memberships = memberships.filter(hospital=hospital)
    return set(memberships.values_list("role", flat=True))


def current_hospital(request) -> Hospital | None:
    """Return the hospital chosen in the switcher, if the user still sees it."""
    value = request.session.get(SESSION_HOSPITAL_KEY)
    if not value:
        return None
    try:
        return hospitals_visible_to(user=request.user).filter(uuid=UUID(value)).first()
    except ValueError:
        return None


def nav_items(*, user: User, hospital: Hospital | None) -> list[NavItem]:
    """Return the sections this user may use, in a fixed order."""
    roles = roles_of(user=user, hospital=hospital)
    items = []
    if roles & set(WORKLIST_ROLES):
        items.append(NavItem("Worklist", reverse("worklist"), "worklist"))
    if roles & set(MEMBER_ROLES):
        items.append(NavItem("Reports", reverse("report-list"), "reports"))
    if roles & set(UPLOAD_ROLES):
        items.append(NavItem("Upload", reverse("study-upload"), "studies/upload"))
    if roles & set(ADMIN_ROLES):
        if hospital is None:  # an admin of one hospital goes straight to it
            administered = list(hospitals_with_role(user=user, roles=ADMIN_ROLES)[:2])
            hospital = administered[0] if len(administered) == 1 else None
        monitoring = (reverse("monitoring-hospital", kwargs={"hospital_uuid": hospital.uuid}) if hospital
                      else reverse("monitoring-index"))
        items.append(NavItem("Monitoring", monitoring, "monitoring"))
        items.append(NavItem("Shadow models", reverse("shadow-index"), "monitoring/shadow"))
        administration = (reverse("admin-hospital", kwargs={"hospital_uuid": hospital.uuid}) if hospital
                          else reverse("admin-index"))
        items.append(NavItem("Administration", administration, "administration"))
    return items


def switchable_hospitals(*, user: User) -> QuerySet[Hospital]:
    return hospitals_visible_to(user=user).order_by("name")


def navigation(request) -> dict:
    """Template context processor: ``nav`` for ``base.html`` (empty for anonymous users)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    hospital = current_hospital(request)
    hospitals = list(switchable_hospitals(user=user)[:200])
    path = request.path.strip("/")
    items = nav_items(user=user, hospital=hospital)
    return {"nav": {
        "items": items,
        "current_section": max((i.section for i in items if path.startswith(i.section)), key=len, default=""),
        "hospitals": hospitals if len(hospitals) > 1 else [],
        "current_hospital": hospital,
    }}
