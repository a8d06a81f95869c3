import pytest

from triage.accounts.models import Role


@pytest.fixture
def admin_a(hospital_a, make_user):
    return make_user(hospital=hospital_a, role=Role.ADMIN)


@pytest.fixture
def admin_b(hospital_b, make_user):
    return make_user(hospital=hospital_b, role=Role.ADMIN)


@pytest.fixture
def platform_admin(make_user):
    return make_user(is_platform_admin=True)


@pytest.fixture
def clinician_a(hospital_a, make_user):
    return make_user(hospital=hospital_a, role=Role.CLINICIAN)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users are created per test; the default PBKDF2 hasher would dominate the run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
