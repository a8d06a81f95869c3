import pytest
from django.test import override_settings

from triage.accounts.models import Role
from tests.conftest import TEST_PASSWORD


@pytest.mark.django_db
def test_login__locks_out_after_repeated_failures_with_a_clear_message(client, hospital_a, make_user):
    make_user(hospital=hospital_a, role=Role.RADIOLOGIST, username="dr.lock")
    with override_settings(AXES_FAILURE_LIMIT=3):
        for _ in range(3):
            client.post("/login/", {"username": "dr.lock", "password": "nope"})
        response = client.post("/login/", {"username": "dr.lock", "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content


@pytest.mark.django_db
def test_login__wrong_password_shows_error_and_no_session(client, hospital_a, make_user):
    make_user(hospital=hospital_a, role=Role.RADIOLOGIST, username="dr.typo")
    response = client.post("/login/", {"username": "dr.typo", "password": "nope"})
    assert response.status_code == 200 and b"Wrong username or password" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login__success_redirects_home_showing_roles(client, hospital_a, make_user):
    make_user(hospital=hospital_a, role=Role.CLINICIAN, username="dr.ok")
    response = client.post("/login/", {"username": "dr.ok", "password": TEST_PASSWORD}, follow=True)
    assert response.status_code == 200 and b"Hospital A" in response.content and b"Clinician" in response.content


@pytest.mark.django_db
def test_member_create_api__unknown_role_is_400_with_message(hospital_a, make_user, api_client_for):
    admin = make_user(hospital=hospital_a, role=Role.ADMIN)
    response = api_client_for(admin).post(
        f"/api/hospitals/{hospital_a.uuid}/members/",
        {"username": "x", "role": "janitor", "password": "a-long-enough-passphrase"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"message": "Unknown role 'janitor'; expected one of: radiologist, clinician, admin.",
                               "extra": {"field": "role"}}
