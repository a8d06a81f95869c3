"""The one place that decides which hospitals' data a user can see.

Every selector builds on :func:`scope_to_user`. A user sees the hospitals they hold a
membership at; a platform admin sees all. A request authenticated with a hospital-bound
API token sees only that hospital (the authentication class sets ``token_hospital_id``).
"""
from django.db.models import Model, QuerySet

from triage.accounts.models import Hospital, Membership
from triage.core.exceptions import NotFound


def visible_hospital_ids(*, user) -> QuerySet | None:
    """Return a subquery of visible hospital ids, or ``None`` meaning "every hospital"."""
    token_hospital_id = getattr(user, "token_hospital_id", None)
    if token_hospital_id is not None:
        return Hospital.objects.filter(id=token_hospital_id).values("id")
    if user.is_platform_admin:
        return None
    return Membership.objects.filter(user=user).values("hospital_id")


def scope_to_user(queryset: QuerySet, *, user, hospital_field: str = "hospital") -> QuerySet:
    """Narrow ``queryset`` to rows whose ``hospital_field`` the user may see."""
    if user is None or not user.is_authenticated:
        return queryset.none()
    ids = visible_hospital_ids(user=user)
    if ids is None:
        return queryset
    lookup = "id__in" if hospital_field == "" else f"{hospital_field}__in"
    return queryset.filter(**{lookup: ids})


def get_visible(queryset: QuerySet, *, user, hospital_field: str = "hospital", **lookup) -> Model:
    """Fetch one row the user may see; a foreign or missing row is the same ``NotFound``."""
    obj = scope_to_user(queryset, user=user, hospital_field=hospital_field).filter(**lookup).first()
    if obj is None:
        raise NotFound()
    return obj


def hospitals_visible_to(*, user) -> QuerySet[Hospital]:
    return scope_to_user(Hospital.objects.all(), user=user, hospital_field="")
