"""Invitations: a user without a password gets a one-time, expiring set-password link by e-mail."""
import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from triage.accounts import services
from triage.accounts.models import Membership, Role, User
from triage.audit.models import AuditEvent
from triage.core.exceptions import DomainError, NotFound

pytestmark = pytest.mark.django_db
SITE = "https://triage.example.org/"
NEW_PASSWORD = "a-long-Chosen-passw0rd"


def invite(admin, hospital, **fields):
    fields = {"username": "dr.new", "role": "radiologist", "email": "dr.new@example.org"} | fields
    return services.invite_user(actor=admin, hospital=hospital, site_url=SITE, **fields)


def link_in(message) -> str:
    return re.search(r"https://triage\.example\.org(/set-password/\S+/)", message.body).group(1)


def test_invite_user__creates_a_member_without_password_and_mails_a_link(hospital_a, admin_a,
                                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user = invite(admin_a, hospital_a)
    assert not user.has_usable_password()
    assert Membership.objects.filter(user=user, hospital=hospital_a, role=Role.RADIOLOGIST).exists()
    [message] = mail.outbox
    assert message.to == ["dr.new@example.org"] and hospital_a.name in message.subject
    assert "dr.new" in message.body and "Radiologist" in message.body
    assert link_in(message)
    assert "password:" not in message.body.lower()  # a link, never a password
    assert set(AuditEvent.objects.filter(actor=admin_a).values_list("action", flat=True)) == {
        "user.invited", "membership.granted"}


def test_invite_user__nothing_is_sent_when_the_transaction_rolls_back(hospital_a, admin_a,
                                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as pending:
        invite(admin_a, hospital_a)
    assert len(pending) == 1 and mail.outbox == []


def test_invite_user__needs_an_email_an_admin_and_a_free_username(hospital_a, hospital_b, admin_a, clinician):
    with pytest.raises(DomainError, match=services.INVITE_NEEDS_EMAIL_MSG):
        invite(admin_a, hospital_a, email="")
    with pytest.raises(ValidationError, match="Enter a valid email"):
        invite(admin_a, hospital_a, email="not-an-address")
    with pytest.raises(PermissionDenied):
        invite(clinician, hospital_a)
    with pytest.raises(NotFound):
        invite(admin_a, hospital_b)  # another hospital: the same 404 as a made-up one
    with pytest.raises(DomainError, match=services.USERNAME_TAKEN_MSG):
        invite(admin_a, hospital_a, username=clinician.username.upper())
    assert mail.outbox == [] and not User.objects.filter(username="dr.new").exists()


def test_set_password_link__works_once_and_the_user_can_sign_in(client, hospital_a, admin_a,
                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user = invite(admin_a, hospital_a)
    link = link_in(mail.outbox[0])
    form = client.get(link, follow=True)
    assert form.status_code == 200 and b'name="new_password1"' in form.content
    done = client.post(form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
                       follow=True)
    assert b"Your password is set" in done.content
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(actor=user, action="user.password_set").exists()
    client.logout()
    again = client.get(link, follow=True)
    assert b"expired or was used already" in again.content


def test_set_password_link__expires(client, settings, hospital_a, admin_a, django_capture_on_commit_callbacks):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    with django_capture_on_commit_callbacks(execute=True):
        invite(admin_a, hospital_a)
    link = link_in(mail.outbox[0])
    later = timezone.now() + timedelta(hours=2)
    with mock.patch("django.contrib.auth.tokens.PasswordResetTokenGenerator._now",
                    return_value=later.replace(tzinfo=None)):
        response = client.get(link, follow=True)
    assert b"expired or was used already" in response.content


def test_resend_invite__only_to_members_without_a_password(hospital_a, hospital_b, admin_a, clinician, make_user,
                                                           django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user = invite(admin_a, hospital_a)
        services.resend_invite(actor=admin_a, hospital=hospital_a, user=user, site_url=SITE)
    assert len(mail.outbox) == 2
    assert AuditEvent.objects.filter(action="user.invited", extra__resent=True).count() == 1
    with pytest.raises(DomainError, match=services.ALREADY_SIGNED_UP_MSG):
        services.resend_invite(actor=admin_a, hospital=hospital_a, user=clinician, site_url=SITE)
    with pytest.raises(NotFound):
        services.resend_invite(actor=admin_a, hospital=hospital_a, user=make_user(hospital=hospital_b,
                                                                                   role="clinician"), site_url=SITE)
