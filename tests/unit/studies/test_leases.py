import time
from datetime import timedelta

import pytest
from django.utils import timezone

from triage.studies.leases import LeaseHeartbeat, renew_lease
from triage.studies.models import Study

# The heartbeat renews from its own thread, so on its own database connection: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def claimed_study(hospital_a):
    until = timezone.now() + timedelta(seconds=30)
    return Study.objects.create(hospital=hospital_a, study_instance_uid="1.2.3.4", status=Study.Status.PROCESSING,
                                lease_until=until)


def lease_in_db(study) -> object:
    return Study.objects.values_list("lease_until", flat=True).get(id=study.id)


def test_renew_lease__extends_only_the_lease_this_worker_holds(claimed_study):
    now = timezone.now()
    renewed = renew_lease(study_id=claimed_study.id, held_until=claimed_study.lease_until,
                          lease=timedelta(seconds=30), now=now)
    assert renewed == now + timedelta(seconds=30) == lease_in_db(claimed_study)
    stale = renew_lease(study_id=claimed_study.id, held_until=claimed_study.lease_until, lease=timedelta(seconds=99))
    assert stale is None and lease_in_db(claimed_study) == renewed  # another lease: left alone


def test_renew_lease__never_extends_a_finished_study(claimed_study):
    Study.objects.filter(id=claimed_study.id).update(status=Study.Status.READY)
    assert renew_lease(study_id=claimed_study.id, held_until=claimed_study.lease_until) is None


def test_lease_heartbeat__keeps_moving_the_lease_forward_while_work_runs(claimed_study):
    first = claimed_study.lease_until
    with LeaseHeartbeat(study_id=claimed_study.id, lease_until=first, lease=timedelta(seconds=30),
                        interval=timedelta(seconds=0.05)) as heartbeat:
        time.sleep(0.4)
    assert heartbeat.lease_until > first and not heartbeat.lost
    assert lease_in_db(claimed_study) == heartbeat.lease_until  # the caller knows the lease it now holds
    stopped_at = lease_in_db(claimed_study)
    time.sleep(0.2)
    assert lease_in_db(claimed_study) == stopped_at  # no renewal after the block ended


def test_lease_heartbeat__stops_when_another_worker_took_the_claim(claimed_study):
    with LeaseHeartbeat(study_id=claimed_study.id, lease_until=claimed_study.lease_until,
                        interval=timedelta(seconds=0.05)) as heartbeat:
        taken = timezone.now() + timedelta(minutes=5)
        Study.objects.filter(id=claimed_study.id).update(lease_until=taken)  # the other worker's claim
        time.sleep(0.3)
    assert heartbeat.lost and lease_in_db(claimed_study) == taken
