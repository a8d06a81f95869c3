import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from triage.accounts import services
from triage.accounts.models import Membership, Role, User
from triage.audit.models import AuditEvent
from triage.core.exceptions import DomainError, NotFound


@pytest.mark.django_db
def test_create_user__admin_creates_member_and_audits(hospital_a, make_user):
    admin = make_user(hospital=hospital_a, role=Role.ADMIN)
    user = services.create_user(actor=admin, hospital=hospital_a, username="dr.new", role="radiologist",
                                password="a-long-enough-passphrase")
    assert Membership.objects.filter(user=user, hospital=hospital_a, role=Role.RADIOLOGIST).exists()
    actions = list(AuditEvent.objects.filter(actor=admin).values_list("action", flat=True))
    assert sorted(actions) == ["membership.granted", "user.created"]


@pytest.mark.django_db
def test_create_user__unknown_role_is_rejected_with_message(hospital_a, make_user):
    admin = make_user(hospital=hospital_a, role=Role.ADMIN)
    with pytest.raises(DomainError, match="Unknown role 'surgeon'"):
        services.create_user(actor=admin, hospital=hospital_a, username="x", role="surgeon",
                             password="a-long-enough-passphrase")
    assert not User.objects.filter(username="x").exists()


@pytest.mark.django_db
def test_create_user__weak_password_rejected(hospital_a, make_user):
    admin = make_user(hospital=hospital_a, role=Role.ADMIN)
    with pytest.raises(ValidationError):
        services.create_user(actor=admin, hospital=hospital_a, username="weak", role="clinician", password="1234")


@pytest.mark.django_db
def test_create_user__clinician_cannot_create_users(hospital_a, make_user):
    clinician = make_user(hospital=hospital_a, role=Role.CLINICIAN)
    with pytest.raises(PermissionDenied):
        services.create_user(actor=clinician, hospital=hospital_a, username="x", role="clinician",
                             password="a-long-enough-passphrase")


@pytest.mark.django_db
def test_create_user__admin_of_other_hospital_gets_not_found(hospital_a, hospital_b, make_user):
    admin_b = make_user(hospital=hospital_b, role=Role.ADMIN)
    with pytest.raises(NotFound):
        services.create_user(actor=admin_b, hospital=hospital_a, username="x", role="clinician",
                             password="a-long-enough-passphrase")


@pytest.mark.django_db
def test_grant_membership__existing_role_is_a_silent_no_op(hospital_a, make_user):
    admin = make_user(hospital=hospital_a, role=Role.ADMIN)
    user = make_user(hospital=hospital_a, role=Role.CLINICIAN)
    before = AuditEvent.objects.count()
    services.grant_membership(actor=admin, hospital=hospital_a, user=user, role="clinician")
    assert AuditEvent.objects.count() == before
    assert Membership.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_create_hospital__needs_platform_admin(make_user):
    with pytest.raises(PermissionDenied):
        services.create_hospital(actor=make_user(), name="X", code="x")
    platform = make_user(is_platform_admin=True)
    hospital = services.create_hospital(actor=platform, name="X", code="x")
    assert AuditEvent.objects.get(action="hospital.created").hospital == hospital


@pytest.mark.django_db
def test_update_hospital_wait_cap__records_old_and_new(hospital_a, make_user):
    admin = make_user(hospital=hospital_a, role=Role.ADMIN)
    services.update_hospital_wait_cap(actor=admin, hospital=hospital_a, max_wait_minutes=30)
    event = AuditEvent.objects.get(action="hospital.updated")
    assert event.extra == {"max_wait_minutes": {"old": 60, "new": 30}}


@pytest.mark.django_db
def test_revoke_api_token__token_stops_authenticating(hospital_a, make_user, api_client_for):
    from rest_framework.test import APIClient

    user = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    token, key = services.create_api_token(actor=user, name="scanner", hospital=hospital_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/me/").status_code == 200
    services.revoke_api_token(actor=user, token=token)
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid or revoked API token."
