"""Invitation e-mails: a link to set a first password, never a password in the mail.

The link carries Django's password-reset token (:data:`django.contrib.auth.tokens.default_token_generator`):
it expires after ``PASSWORD_RESET_TIMEOUT`` (``TRIAGE_INVITE_VALID_SECONDS``, 3 days by default)
and stops working once a password is set, because the token hashes the password and last sign-in.
"""
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from triage.accounts.models import Hospital, User

INVITE_SUBJECT = "Your CT Triage account at {hospital}"
INVITE_BODY = """Hello {name},

{inviter} has given you the role "{role}" at {hospital} on CT Triage.

Choose your password here (the link works once and expires in {valid_days} days):

{link}

Your username is: {username}

If you did not expect this message, ignore it: no account is usable until a password is set.
"""


def set_password_path(*, user: User) -> str:
    """Return the path of ``user``'s one-time set-password page."""
    return reverse("set-password", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                                           "token": default_token_generator.make_token(user)})


def send_invite(*, user: User, hospital: Hospital, role_label: str, inviter: User, site_url: str) -> None:
    """Mail ``user`` a set-password link for their role at ``hospital``; ``site_url`` is the platform's base URL."""
    link = site_url.rstrip("/") + set_password_path(user=user)
    body = INVITE_BODY.format(name=user.get_full_name() or user.username, inviter=inviter.get_username(),
                              role=role_label, hospital=hospital.name, link=link, username=user.username,
                              valid_days=round(settings.PASSWORD_RESET_TIMEOUT / 86400, 1))
    send_mail(INVITE_SUBJECT.format(hospital=hospital.name), body, None, [user.email])
