from datetime import UTC, datetime

import pytest

from triage.accounts.models import Role

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated_storage(study_storage):
    return study_storage


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def radiologist(hospital_a, make_user):
    return make_user(hospital=hospital_a, role=Role.RADIOLOGIST)


@pytest.fixture
def radiologist_b(hospital_b, make_user):
    return make_user(hospital=hospital_b, role=Role.RADIOLOGIST)
