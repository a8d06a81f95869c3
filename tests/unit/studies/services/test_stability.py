"""A study is ingested only once no instance arrived for the stable age (triage/studies/stability.py)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.corpus.make_bad_inputs import ct_series
from tests.unit.studies.helpers import receive
from triage.studies.models import Study
from triage.studies.services import ingest
from triage.studies.stability import seconds_until_stable

pytestmark = pytest.mark.django_db
Status = Study.Status
AFTER = ingest.AfterIngest


@pytest.fixture
def stable_age_20s(settings):
    settings.STUDY_STABLE_AGE_S = 20


def test_seconds_until_stable__counts_down_to_zero_over_the_stable_age(stable_age_20s):
    last = timezone.now()
    assert seconds_until_stable(last_instance_received_at=last, now=last + timedelta(seconds=5)) == 15
    assert seconds_until_stable(last_instance_received_at=last, now=last + timedelta(seconds=20)) == 0
    assert seconds_until_stable(last_instance_received_at=last, now=last + timedelta(minutes=5)) == 0
    assert seconds_until_stable(last_instance_received_at=None, now=last) == 0


def test_ingest_study__leaves_a_study_still_receiving_alone(hospital_a, radiologist, stable_age_20s):
    start = timezone.now()
    receive(hospital=hospital_a, user=radiologist, files=ct_series(slices=9), now=start)
    study = Study.objects.get()
    outcome = ingest.ingest_study(study_id=study.id, now=start + timedelta(seconds=10))
    study.refresh_from_db()
    assert outcome.next_step == AFTER.WAIT and outcome.wait_s == 10
    assert study.status == Status.RECEIVED and study.lease_until is None  # not claimed either


def test_ingest_study__a_late_part_restarts_the_wait(hospital_a, radiologist, stable_age_20s):
    start = timezone.now()
    series = ct_series(slices=12)
    first, rest = dict(list(series.items())[:8]), dict(list(series.items())[8:])
    receive(hospital=hospital_a, user=radiologist, files=first, now=start)
    later = start + timedelta(seconds=15)
    receive(hospital=hospital_a, user=radiologist, files=rest, now=later)
    study = Study.objects.get()
    # 25 s after the first part but 10 s after the rest: still receiving.
    waiting = ingest.ingest_study(study_id=study.id, now=start + timedelta(seconds=25))
    assert waiting.next_step == AFTER.WAIT and waiting.wait_s == 10
    outcome = ingest.ingest_study(study_id=study.id, now=later + timedelta(seconds=20))
    study.refresh_from_db()
    assert outcome.next_step == AFTER.ANALYSE and study.status == Status.QUEUED
    assert study.selected_series.instances.filter(z_position_mm__isnull=False).count() == 12


def test_stable_age_check__negative_or_with_eager_tasks_is_an_error(settings):
    from triage.studies.checks import check_stable_age

    settings.STUDY_STABLE_AGE_S = -1
    assert [m.id for m in check_stable_age()] == ["studies.E003"]
    settings.STUDY_STABLE_AGE_S, settings.CELERY_TASK_ALWAYS_EAGER = 20, True
    assert [m.id for m in check_stable_age()] == ["studies.E004"]
    settings.STUDY_STABLE_AGE_S = 0
    assert check_stable_age() == []


def test_late_instances_after_analysis_reopen_the_study_and_it_is_ingested_whole_once_stable(
        hospital_a, radiologist, stable_age_20s):
    start = timezone.now()
    series = ct_series(slices=12)
    names = list(series)
    receive(hospital=hospital_a, user=radiologist, files={n: series[n] for n in names[:9]}, now=start)
    study = Study.objects.get()
    assert ingest.ingest_study(study_id=study.id, now=start + timedelta(seconds=20)).next_step == AFTER.ANALYSE
    Study.objects.filter(id=study.id).update(status=Status.READY)  # analysed with 9 of 12 slices
    late = start + timedelta(minutes=5)
    report = receive(hospital=hospital_a, user=radiologist, files={n: series[n] for n in names[9:]}, now=late)
    study.refresh_from_db()
    assert report.studies_to_ingest == [study.id] and study.status == Status.RECEIVED
    assert ingest.ingest_study(study_id=study.id, now=late + timedelta(seconds=5)).next_step == AFTER.WAIT
    outcome = ingest.ingest_study(study_id=study.id, now=late + timedelta(seconds=20))
    assert outcome.next_step == AFTER.ANALYSE  # queued again for analysis, now with every slice
    assert outcome.study.selected_series.instances.filter(z_position_mm__isnull=False).count() == 12
