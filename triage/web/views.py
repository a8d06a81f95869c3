"""The home page per role, the hospital switcher and the styled error pages."""
from dataclasses import dataclass
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from triage.accounts.models import Hospital, Role
from triage.accounts.tenancy import hospitals_visible_to
from triage.web.navigation import SESSION_HOSPITAL_KEY, roles_of
from triage.worklist.selectors import waiting_counts


@dataclass(frozen=True)
class HomeRow:
    hospital: Hospital
    roles: list[str]
    waiting: int

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN.label in self.roles

    @property
    def reads(self) -> bool:
        return Role.RADIOLOGIST.label in self.roles or self.is_admin


@login_required
def home(request):
    """List the hospitals the user works at (a platform admin: every hospital) with what they may do there."""
    user = request.user
    waiting = waiting_counts(user=user)
    rows = []
    for hospital in hospitals_visible_to(user=user).order_by("name"):
        roles = sorted(Role(r).label for r in roles_of(user=user, hospital=hospital))
        rows.append(HomeRow(hospital=hospital, roles=roles, waiting=waiting.get(hospital.id, 0)))
    return render(request, "home.html", {"rows": rows})


@login_required
@require_POST
def switch_hospital(request):
    """Remember the hospital picked in the navigation ("" = all of mine) and go back where the user was."""
    try:
        chosen = UUID(request.POST.get("hospital", ""))
    except ValueError:
        chosen = None  # "" (all my hospitals) or garbage: no narrowing
    hospital = hospitals_visible_to(user=request.user).filter(uuid=chosen).first() if chosen else None
    if hospital is None:
        request.session.pop(SESSION_HOSPITAL_KEY, None)
    else:
        request.session[SESSION_HOSPITAL_KEY] = str(hospital.uuid)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = "/"
    return HttpResponseRedirect(target)
