import pytest

from triage.accounts.models import Hospital
from triage.pipeline import demo
from triage.studies.models import Instance, Study

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_demo(monkeypatch):
    monkeypatch.setattr(demo, "DEMO_PHANTOMS", (("moderate", 0), ("none", 1)))


def test_seed_demo_studies__uploads_phantoms_per_demo_hospital_idempotently(small_demo):
    north = Hospital.objects.create(name="North", code="north")
    Hospital.objects.create(name="South", code="south")
    first = demo.seed_demo_studies(slices=12, size_px=64, real_series=None)
    assert len(first) == 4 and Study.objects.filter(hospital=north, source="demo").count() == 2
    instances = Instance.objects.count()
    assert demo.seed_demo_studies(slices=12, size_px=64, real_series=None) == []
    assert Instance.objects.count() == instances == 4 * 12


def test_seed_demo_studies__adds_the_shipped_real_series(small_demo):
    Hospital.objects.create(name="North", code="north")
    reports = demo.seed_demo_studies(slices=12, size_px=64)
    assert reports[-1][1].count("accepted") == 30
    again = demo.seed_demo_studies(slices=12, size_px=64)
    assert again[-1][1].count("duplicate") == 30
