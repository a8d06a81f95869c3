"""Audit logins, failed logins and logouts (Django's auth signals are the only hook)."""
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from triage.accounts.audit_actions import AccountAction
from triage.audit.services import record_event


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs) -> None:
    record_event(actor=user, action=AccountAction.LOGIN)


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        record_event(actor=user, action=AccountAction.LOGOUT)


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # The attempted username is kept: it is staff-identifying, not patient data.
    record_event(actor=None, action=AccountAction.LOGIN_FAILED,
                 extra={"username": str(credentials.get("username", ""))[:150]})
