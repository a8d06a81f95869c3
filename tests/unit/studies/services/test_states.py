from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from tests.unit.studies.helpers import actions_for, make_queued_study
from triage.audit.models import AuditEvent
from triage.studies.exceptions import IllegalStudyTransition
from triage.studies.models import Study
from triage.studies.services import states

pytestmark = pytest.mark.django_db
Status = Study.Status


def test_claim_study_for_processing__only_one_claim_until_lease_expires(hospital_a, radiologist, phantom_series):
    study = make_queued_study(hospital_a, radiologist, phantom_series)
    now = timezone.now()
    assert states.claim_study_for_processing(study_id=study.id, lease=timedelta(minutes=5), now=now)
    assert states.claim_study_for_processing(study_id=study.id, lease=timedelta(minutes=5), now=now) is None
    later = now + timedelta(minutes=6)
    assert states.claim_study_for_processing(study_id=study.id, lease=timedelta(minutes=5), now=later)
    assert actions_for(study).count("study.processing") == 2


def test_mark_study_ready__from_processing_then_no_op(hospital_a, radiologist, phantom_series):
    study = make_queued_study(hospital_a, radiologist, phantom_series)
    states.claim_study_for_processing(study_id=study.id, lease=timedelta(minutes=5))
    assert states.mark_study_ready(study_id=study.id).status == Status.READY
    assert states.mark_study_ready(study_id=study.id).status == Status.READY
    assert actions_for(study).count("study.ready") == 1


def test_mark_study_ready__illegal_from_queued(hospital_a, radiologist, phantom_series):
    study = make_queued_study(hospital_a, radiologist, phantom_series)
    with pytest.raises(IllegalStudyTransition, match="A study cannot go from queued to ready."):
        states.mark_study_ready(study_id=study.id)


def test_mark_study_failed__records_reason_and_audit(hospital_a, radiologist, phantom_series):
    study = make_queued_study(hospital_a, radiologist, phantom_series)
    failed = states.mark_study_failed(study_id=study.id, reason="Model crashed.")
    assert (failed.status, failed.failure_reason) == (Status.FAILED, "Model crashed.")
    event = AuditEvent.objects.filter(action="study.failed").get()
    assert event.extra == {"old": "queued", "new": "failed", "reason": "Model crashed."}


def test_reprocess_study__admin_requeues_failed_study(hospital_a, radiologist, admin_a, phantom_series):
    study = make_queued_study(hospital_a, radiologist, phantom_series)
    states.mark_study_failed(study_id=study.id, reason="x")
    again = states.reprocess_study(actor=admin_a, study=Study.objects.get(id=study.id))
    assert again.status == Status.QUEUED and again.failure_reason == ""
    assert AuditEvent.objects.filter(action="study.reprocessed", actor=admin_a).exists()


def test_requeue_ready_studies__audits_each_study_with_the_callers_action(hospital_a, radiologist, phantom_series):
    study = make_queued_study(hospital_a, radiologist, phantom_series)
    states.claim_study_for_processing(study_id=study.id, lease=timedelta(minutes=5))
    states.mark_study_ready(study_id=study.id)
    assert states.requeue_ready_studies(actor=None, action="result.reanalysis_requested") == [study.id]
    assert states.requeue_ready_studies(actor=None, action="result.reanalysis_requested") == []
    assert Study.objects.get(id=study.id).status == Status.QUEUED
    event = AuditEvent.objects.get(action="result.reanalysis_requested")
    assert event.extra == {"old": "ready", "new": "queued"}


def test_reprocess_study__radiologist_is_denied(hospital_a, radiologist, phantom_series):
    study = make_queued_study(hospital_a, radiologist, phantom_series)
    with pytest.raises(PermissionDenied):
        states.reprocess_study(actor=radiologist, study=study)


def test_reprocess_study__illegal_from_queued(hospital_a, radiologist, admin_a, phantom_series):
    study = make_queued_study(hospital_a, radiologist, phantom_series)
    with pytest.raises(IllegalStudyTransition):
        states.reprocess_study(actor=admin_a, study=study)


@pytest.mark.django_db
def test_study_transitions__keep_the_worklist_row_in_step(hospital_a):
    from triage.worklist.models import WorklistEntry

    study = Study.objects.create(hospital=hospital_a, study_instance_uid="9.8.7", status="processing")
    states.mark_study_failed(study_id=study.id, reason="Bad data.")
    assert WorklistEntry.objects.get(study=study).status == "failed"
