import pytest

from triage.accounts.models import Role
from tests.unit.reports.factories import make_ready_study


@pytest.fixture
def other_radiologist(hospital_a, make_user):
    return make_user(hospital=hospital_a, role=Role.RADIOLOGIST)


@pytest.fixture
def ready_study(hospital_a):
    return make_ready_study(hospital=hospital_a)


@pytest.fixture
def foreign_study(hospital_b):
    return make_ready_study(hospital=hospital_b)
