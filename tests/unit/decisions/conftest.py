"""Re-use the report tests' users and studies."""
import pytest

from tests.unit.reports.conftest import clinician, foreign_study, radiologist, ready_study  # noqa: F401
from triage.accounts.models import Role


@pytest.fixture
def admin(hospital_a, make_user):
    return make_user(hospital=hospital_a, role=Role.ADMIN)
