"""Re-use the report tests' users and studies."""
import pytest

from tests.unit.reports.conftest import (  # noqa: F401
    _fast_password_hashing, clinician, foreign_study, radiologist, ready_study)
from triage.accounts.models import Role


@pytest.fixture
def admin(hospital_a, make_user):
    return make_user(hospital=hospital_a, role=Role.ADMIN)
