"""The beat sweep that re-sends shadow analyses ready studies missed (broker down, lost message)."""
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from tests.unit.monitoring.factories import SHIPPED_3D, hidden_result, make_case
from triage.pipeline import shadow, tasks
from triage.results.models import Candidate
from triage.results.services import end_candidacy, mark_candidate

pytestmark = pytest.mark.django_db


@pytest.fixture
def candidate(platform_admin, hospital_a):
    candidate = mark_candidate(actor=platform_admin, reference=SHIPPED_3D, hospital=hospital_a)
    Candidate.objects.filter(id=candidate.id).update(started_at=timezone.now() - timedelta(hours=3))
    candidate.refresh_from_db()
    return candidate


def ready_study(hospital, *, hours_ago: float):
    """A ready study that became ready ``hours_ago`` (make_case: ready 60 s after it was received)."""
    return make_case(hospital=hospital, received_at=timezone.now() - timedelta(hours=hours_ago, seconds=60))


@pytest.fixture
def sent():
    with mock.patch.object(shadow, "enqueue_shadow_analysis", return_value=True) as enqueue:
        yield enqueue


def sent_ids(enqueue) -> list[int]:
    return [c.kwargs["study_id"] for c in enqueue.call_args_list]


def test_sweep__sends_each_missed_study_once(candidate, hospital_a, hospital_b, sent):
    missed = ready_study(hospital_a, hours_ago=1)
    hidden_result(ready_study(hospital_a, hours_ago=1), candidate.model_version, 0.4)  # has its shadow result
    ready_study(hospital_a, hours_ago=5)  # ready before the candidacy began
    ready_study(hospital_b, hours_ago=1)  # another hospital: not in this candidacy
    ready_study(hospital_a, hours_ago=0)  # just ready: its own message may still be on the way
    assert shadow.requeue_missed_shadow_analyses() == 1
    assert sent_ids(sent) == [missed.id]
    assert sent.call_args.kwargs["model_version_id"] == candidate.model_version_id
    # the watermark moved past it: a candidate that fails on a study is not re-run on it every sweep
    assert shadow.requeue_missed_shadow_analyses() == 0 and sent.call_count == 1


def test_sweep__broker_down_keeps_the_watermark_so_the_next_run_sends_again(candidate, hospital_a):
    missed = ready_study(hospital_a, hours_ago=1)
    with mock.patch.object(shadow, "enqueue_shadow_analysis", return_value=False):
        assert shadow.requeue_missed_shadow_analyses() == 0
    assert Candidate.objects.get(id=candidate.id).swept_until is None
    with mock.patch.object(shadow, "enqueue_shadow_analysis", return_value=True) as enqueue:
        assert shadow.requeue_missed_shadow_analyses() == 1
    assert sent_ids(enqueue) == [missed.id]


def test_sweep__a_full_batch_continues_after_its_last_study(candidate, hospital_a, sent):
    studies = [ready_study(hospital_a, hours_ago=2 - i / 10) for i in range(3)]
    assert shadow.requeue_missed_shadow_analyses(limit=2) == 2
    assert shadow.requeue_missed_shadow_analyses(limit=2) == 1
    assert sent_ids(sent) == [s.id for s in studies]


def test_sweep__ended_or_promoted_candidacies_are_skipped(candidate, hospital_a, platform_admin, sent):
    ready_study(hospital_a, hours_ago=1)
    end_candidacy(actor=platform_admin, candidate=candidate)
    assert shadow.requeue_missed_shadow_analyses() == 0 and not sent.called


def test_sweep_task__runs_twice_safely(candidate, hospital_a, sent):
    ready_study(hospital_a, hours_ago=1)
    assert tasks.requeue_missed_shadow_analyses.apply().get() == 1
    assert tasks.requeue_missed_shadow_analyses.apply().get() == 0


def test_sweep__is_in_the_beat_schedule(settings):
    assert {"task": "results.requeue_missed_shadow_analyses", "schedule": 300.0} in settings.CELERY_BEAT_SCHEDULE.values()
