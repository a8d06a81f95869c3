"""Sessions and credentials: production cookie/HSTS flags, CSRF on every state change, password rules.

Login throttling (tests/unit/accounts/test_login.py), token revocation (tests/unit/accounts) and
``check --deploy`` (tests/unit/test_deployment.py) are covered where they live.
"""
import json
import os
import subprocess
import sys

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tests.conftest import REPO_ROOT
from tests.security.conftest import client_as
from tests.security.discovery import Operation

STATE_CHANGING = ("post", "put", "patch", "delete")
PRODUCTION_FLAGS = ("DEBUG", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
                    "CSRF_COOKIE_SECURE", "CSRF_COOKIE_SAMESITE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
                    "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_CONTENT_TYPE_NOSNIFF", "X_FRAME_OPTIONS",
                    "SECURE_PROXY_SSL_HEADER")


def production_settings() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"}}
    env |= {"TRIAGE_ENV": "production", "SECRET_KEY": "p" * 60, "DJANGO_SETTINGS_MODULE": "triage.settings"}
    code = ("import json; from django.conf import settings as s; "
            f"print(json.dumps({{n: getattr(s, n, None) for n in {PRODUCTION_FLAGS!r}}}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings__secure_cookies_hsts_and_ssl_redirect():
    flags = production_settings()

    assert flags["DEBUG"] is False
    assert flags["SESSION_COOKIE_SECURE"] and flags["CSRF_COOKIE_SECURE"] and flags["SESSION_COOKIE_HTTPONLY"]
    assert flags["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict") and flags["CSRF_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert flags["SECURE_SSL_REDIRECT"] is True
    assert flags["SECURE_HSTS_SECONDS"] >= 31536000 and flags["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert flags["SECURE_CONTENT_TYPE_NOSNIFF"] and flags["X_FRAME_OPTIONS"] == "DENY"
    assert flags["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def _csrf_target(operation: Operation) -> bool:
    # DICOMweb accepts tokens only (no session, so no CSRF surface): tests/integration/test_gateway.py.
    return operation.method in STATE_CHANGING and not operation.template.startswith("/dicomweb/")


@pytest.mark.django_db
def test_every_state_changing_operation__session_without_csrf_token_is_403(world, operations):
    client = client_as(world, "admin", enforce_csrf=True)
    checked = []
    for operation in filter(_csrf_target, operations):
        url = operation.url(world.a.params)
        response = getattr(client, operation.method)(url, data={}, format="json")
        assert response.status_code == 403, f"{operation} without a CSRF token -> {response.status_code}"
        assert b"CSRF" in response.content, f"{operation}: 403 for another reason: {response.content[:200]!r}"
        checked.append(str(operation))
    assert len(checked) >= 15 and "POST /login/" in checked and "POST /logout/" in checked


@pytest.mark.django_db
def test_session_api_call__with_csrf_token_passes_the_check(world):
    client = client_as(world, "admin", enforce_csrf=True)
    client.get("/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value

    response = client.post("/api/tokens/", {"name": "with-csrf"}, format="json", HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_token_authenticated_api_call__needs_no_csrf_token(world):
    response = client_as(world, "token", enforce_csrf=True).post("/api/tokens/", {"name": "by-token"}, format="json")

    assert response.status_code == 201, response.content


@pytest.mark.parametrize("password", ["short", "password1234", "123456789012", "hospital-a-admin"])
def test_password_validators__refuse_weak_passwords(password):
    from triage.accounts.models import User

    user = User(username="hospital-a-admin")
    with pytest.raises(ValidationError):
        validate_password(password, user=user)


@pytest.mark.django_db
def test_member_create_api__weak_password_is_400_and_creates_nobody(world):
    from triage.accounts.models import User

    response = client_as(world, "admin").post(
        f"/api/hospitals/{world.a.hospital.uuid}/members/",
        {"username": "newdoc", "role": "clinician", "password": "password1234"}, format="json")

    assert response.status_code == 400, response.content
    assert not User.objects.filter(username="newdoc").exists()
