"""Every write to hospitals, users, memberships and tokens; each one audited."""
import secrets
from functools import partial

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from triage.accounts.audit_actions import AccountAction
from triage.accounts.authentication import hash_key
from triage.accounts.invites import send_invite
from triage.accounts.models import ApiToken, Hospital, Membership, Role, User
from triage.accounts.permissions import ADMIN_ROLES, MEMBER_ROLES, require_platform_admin, require_role
from triage.audit.services import record_event
from triage.core.exceptions import DomainError, NotFound

UNKNOWN_ROLE_MSG = "Unknown role {role!r}; expected one of: radiologist, clinician, admin."
USERNAME_TAKEN_MSG = "A user with this username already exists."
TOKEN_ALREADY_REVOKED_MSG = "This token is already revoked."
DEACTIVATE_SELF_MSG = "You cannot deactivate your own account."
INVITE_NEEDS_EMAIL_MSG = "An invitation needs the person's e-mail address."
ALREADY_SIGNED_UP_MSG = "This user has set a password already and can sign in."
DEACTIVATE_ELSEWHERE_MSG = ("This user also works at hospitals you do not administer; "
                            "revoke their roles here, or ask a platform administrator.")


def parse_role(value: str) -> Role:
    if value not in Role.values:
        raise DomainError(UNKNOWN_ROLE_MSG.format(role=value), extra={"field": "role"})
    return Role(value)


@transaction.atomic
def create_hospital(*, actor: User, name: str, code: str, max_wait_minutes: int = 60) -> Hospital:
    require_platform_admin(user=actor)
    hospital = Hospital(name=name, code=code, max_wait_minutes=max_wait_minutes)
    hospital.full_clean()
    hospital.save()
    record_event(actor=actor, action=AccountAction.HOSPITAL_CREATED, hospital=hospital, target=hospital,
                 extra={"name": name, "code": code})
    return hospital


@transaction.atomic
def update_hospital_wait_cap(*, actor: User, hospital: Hospital, max_wait_minutes: int) -> Hospital:
    require_role(user=actor, hospital=hospital, roles=ADMIN_ROLES)
    old = hospital.max_wait_minutes
    if old == max_wait_minutes:
        return hospital
    hospital.max_wait_minutes = max_wait_minutes
    hospital.full_clean()
    hospital.save(update_fields=["max_wait_minutes"])
    record_event(actor=actor, action=AccountAction.HOSPITAL_UPDATED, hospital=hospital, target=hospital,
                 extra={"max_wait_minutes": {"old": old, "new": max_wait_minutes}})
    return hospital


@transaction.atomic
def create_user(
    *, actor: User | None, hospital: Hospital, username: str, role: str, password: str, email: str = "",
    first_name: str = "", last_name: str = "",
) -> User:
    """Create a user with one role at ``hospital``; ``actor=None`` only for provisioning commands."""
    return _add_user(actor=actor, hospital=hospital, username=username, role=role, password=password,
                     email=email, first_name=first_name, last_name=last_name)


@transaction.atomic
def invite_user(*, actor: User, hospital: Hospital, username: str, role: str, email: str, site_url: str,
                first_name: str = "", last_name: str = "") -> User:
    """Create a user without a password, with one role at ``hospital``; mail them a set-password link on commit.

    Until they follow the link nobody can sign in as them. A mail server error surfaces after
    the commit (the user exists; :func:`resend_invite` sends the link again).
    """
    if not email:
        raise DomainError(INVITE_NEEDS_EMAIL_MSG, extra={"field": "email"})
    user = _add_user(actor=actor, hospital=hospital, username=username, role=role, password=None, email=email,
                     first_name=first_name, last_name=last_name)
    transaction.on_commit(partial(send_invite, user=user, hospital=hospital, role_label=Role(role).label,
                                  inviter=actor, site_url=site_url))
    return user


@transaction.atomic
def resend_invite(*, actor: User, hospital: Hospital, user: User, site_url: str) -> User:
    """Mail an invited user (no password yet) a fresh set-password link; the earlier link keeps its expiry."""
    require_role(user=actor, hospital=hospital, roles=ADMIN_ROLES)
    membership = Membership.objects.filter(user=user, hospital=hospital).first()
    if membership is None:
        raise NotFound()
    if user.has_usable_password():
        raise DomainError(ALREADY_SIGNED_UP_MSG)
    if not user.email:
        raise DomainError(INVITE_NEEDS_EMAIL_MSG, extra={"field": "email"})
    record_event(actor=actor, action=AccountAction.USER_INVITED, hospital=hospital, target=user,
                 extra={"resent": True})
    transaction.on_commit(partial(send_invite, user=user, hospital=hospital, role_label=membership.get_role_display(),
                                  inviter=actor, site_url=site_url))
    return user


@transaction.atomic
def record_password_set(*, user: User) -> None:
    """Audit that ``user`` chose a password through an invitation link."""
    record_event(actor=user, action=AccountAction.PASSWORD_SET, target=user)


def _add_user(*, actor: User | None, hospital: Hospital, username: str, role: str, password: str | None,
              email: str, first_name: str, last_name: str) -> User:
    """Create the user (no usable password when ``password`` is None), audit it and grant ``role``."""
    parsed_role = parse_role(role)
    if actor is not None:
        require_role(user=actor, hospital=hospital, roles=ADMIN_ROLES)
    if User.objects.filter(username__iexact=username).exists():
        raise DomainError(USERNAME_TAKEN_MSG, extra={"field": "username"})
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    if password is None:
        user.set_unusable_password()
    else:
        validate_password(password, user=user)
        user.set_password(password)
    user.full_clean()
    user.save()
    action = AccountAction.USER_CREATED if password is not None else AccountAction.USER_INVITED
    record_event(actor=actor, action=action, hospital=hospital, target=user)
    grant_membership(actor=actor, hospital=hospital, user=user, role=parsed_role)
    return user


@transaction.atomic
def grant_membership(*, actor: User | None, hospital: Hospital, user: User, role: str) -> Membership:
    parsed_role = parse_role(role)
    if actor is not None:
        require_role(user=actor, hospital=hospital, roles=ADMIN_ROLES)
    membership, created = Membership.objects.get_or_create(user=user, hospital=hospital, role=parsed_role)
    if created:
        record_event(actor=actor, action=AccountAction.MEMBERSHIP_GRANTED, hospital=hospital, target=membership,
                     extra={"user": str(user.uuid), "role": parsed_role.value})
    return membership


@transaction.atomic
def revoke_membership(*, actor: User, membership: Membership) -> None:
    require_role(user=actor, hospital=membership.hospital, roles=ADMIN_ROLES)
    record_event(actor=actor, action=AccountAction.MEMBERSHIP_REVOKED, hospital=membership.hospital,
                 target=membership, extra={"user": str(membership.user.uuid), "role": membership.role})
    membership.delete()


@transaction.atomic
def deactivate_user(*, actor: User, hospital: Hospital, user: User) -> User:
    """Stop ``user`` from signing in (rows they wrote stay attributed); an admin of all their hospitals may."""
    require_role(user=actor, hospital=hospital, roles=(Role.ADMIN,))
    if not Membership.objects.filter(user=user, hospital=hospital).exists():
        raise NotFound()
    if user.pk == actor.pk:
        raise DomainError(DEACTIVATE_SELF_MSG)
    if not user.is_active:
        return user
    elsewhere = (Membership.objects.filter(user=user).exclude(hospital=hospital)
                 .exclude(hospital__memberships__user=actor, hospital__memberships__role=Role.ADMIN))
    if not actor.is_platform_admin and elsewhere.exists():
        raise DomainError(DEACTIVATE_ELSEWHERE_MSG)
    user.is_active = False
    user.save(update_fields=["is_active"])
    user.api_tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    record_event(actor=actor, action=AccountAction.USER_DEACTIVATED, hospital=hospital, target=user,
                 extra={"is_active": {"old": True, "new": False}})
    return user


@transaction.atomic
def create_api_token(*, actor: User, name: str, hospital: Hospital | None = None) -> tuple[ApiToken, str]:
    """Create a token for ``actor``; return it with the key, which is never stored or shown again."""
    if hospital is not None:
        require_role(user=actor, hospital=hospital, roles=MEMBER_ROLES)
    key = secrets.token_urlsafe(32)
    token = ApiToken(user=actor, hospital=hospital, name=name, key_prefix=key[:8], key_sha256=hash_key(key))
    token.full_clean()
    token.save()
    record_event(actor=actor, action=AccountAction.TOKEN_CREATED, hospital=hospital, target=token,
                 extra={"name": name})
    return token, key


@transaction.atomic
def revoke_api_token(*, actor: User, token: ApiToken, now=None) -> ApiToken:
    if token.revoked_at is not None:
        raise DomainError(TOKEN_ALREADY_REVOKED_MSG)
    token.revoked_at = now or timezone.now()
    token.save(update_fields=["revoked_at"])
    record_event(actor=actor, action=AccountAction.TOKEN_REVOKED, hospital=token.hospital, target=token)
    return token
