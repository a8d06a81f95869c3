from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.corpus.make_bad_inputs import ct_series, ct_slice
from tests.unit.studies.helpers import read_paths, receive
from triage.accounts.models import Role
from triage.audit.models import AuditEvent
from triage.core.exceptions import NotFound
from triage.studies.services import ingest, states
from triage.studies.exceptions import IllegalStudyTransition, NoUsableSeries
from triage.studies.models import Instance, Series, Study

pytestmark = pytest.mark.django_db
Status = Study.Status


def actions_for(study) -> list[str]:
    return list(AuditEvent.objects.filter(object_id=str(study.uuid)).order_by("id").values_list("action", flat=True))


def make_queued_study(hospital, user, phantom_series) -> Study:
    receive(hospital=hospital, user=user, files=read_paths(phantom_series()))
    study = Study.objects.get()
    return ingest.ingest_study(study_id=study.id).study


def test_receive_instances__stores_phantom_as_one_study_with_metadata(hospital_a, radiologist, phantom_series):
    paths = phantom_series(slices=12, patient_id="PAT-1", accession_number="ACC-1")
    report = receive(hospital=hospital_a, user=radiologist, files=read_paths(paths))
    study = Study.objects.get()
    assert report.count("accepted") == 12 and report.studies == [str(study.uuid)]
    assert (study.patient_id, study.accession_number, study.status) == ("PAT-1", "ACC-1", Status.RECEIVED)
    series = study.series.get()
    assert (series.slice_count, series.rows, series.modality) == (12, 64, "CT")
    instance = Instance.objects.first()
    assert instance.storage_path == f"{hospital_a.uuid}/{instance.sha256[:2]}/{instance.sha256}.dcm"
    assert default_storage.exists(instance.storage_path)
    assert actions_for(study) == ["study.received", "study.uploaded"]


def test_receive_instances__duplicate_upload_is_idempotent(hospital_a, radiologist, phantom_series):
    files = read_paths(phantom_series(slices=12))
    first = receive(hospital=hospital_a, user=radiologist, files=files)
    again = receive(hospital=hospital_a, user=radiologist, files=files)
    assert again.studies == first.studies
    assert {f.status for f in again.files} == {"duplicate"}
    assert Instance.objects.count() == 12 and Study.objects.count() == 1


def test_receive_instances__splits_mixed_studies(hospital_a, radiologist):
    one, two = ct_series(slices=3), ct_series(slices=2)
    files = {f"a{n}": d for n, d in one.items()} | {f"b{n}": d for n, d in two.items()}
    report = receive(hospital=hospital_a, user=radiologist, files=files)
    assert len(report.studies) == 2 and Study.objects.count() == 2
    assert sorted(Study.objects.values_list("series__slice_count", flat=True)) == [2, 3]


def test_receive_instances__same_uid_at_other_hospital_is_separate_study(hospital_a, hospital_b, radiologist,
                                                                         make_user):
    other = make_user(hospital=hospital_b, role=Role.CLINICIAN)
    files = ct_series(slices=2)
    mine = receive(hospital=hospital_a, user=radiologist, files=files)
    theirs = receive(hospital=hospital_b, user=other, files=files)
    assert {f.status for f in theirs.files} == {"accepted"}
    assert mine.studies != theirs.studies and Instance.objects.count() == 4


def test_receive_instances__rejects_size_mismatch_within_series(hospital_a, radiologist, study_storage):
    from pydicom.uid import generate_uid
    study_uid, series_uid = generate_uid(), generate_uid()
    files = {"big.dcm": ct_slice(study_uid=study_uid, series_uid=series_uid, size_px=32),
             "small.dcm": ct_slice(study_uid=study_uid, series_uid=series_uid, size_px=16, index=1)}
    report = receive(hospital=hospital_a, user=radiologist, files=files)
    assert [(f.name, f.status) for f in report.files] == [("big.dcm", "accepted"), ("small.dcm", "rejected")]
    assert report.files[1].reason == "Image size 16x16 differs from the rest of its series (32x32)."
    assert len(list(study_storage.rglob("*.dcm"))) == 1  # the rejected file was not kept


def test_receive_instances__outsider_gets_not_found(hospital_a, make_hospital, make_user):
    outsider = make_user(hospital=make_hospital(), role=Role.RADIOLOGIST)
    with pytest.raises(NotFound):
        receive(hospital=hospital_a, user=outsider, files=ct_series(slices=1))
    assert not Study.objects.exists()


def test_receive_instances__database_failure_leaves_no_rows_or_files(hospital_a, radiologist, study_storage):
    with mock.patch.object(Instance.objects, "bulk_create", side_effect=RuntimeError("db down")):
        with pytest.raises(RuntimeError):
            receive(hospital=hospital_a, user=radiologist, files=ct_series(slices=3))
    assert not Study.objects.exists()
    assert not [p for p in study_storage.rglob("*.dcm")]


def test_ingest_study__selects_axial_series_orders_slices_and_queues(hospital_a, radiologist, phantom_series):
    receive(hospital=hospital_a, user=radiologist, files=read_paths(phantom_series(slices=12)))
    study = Study.objects.get()
    outcome = ingest.ingest_study(study_id=study.id)
    study.refresh_from_db()
    series = study.series.get()
    assert outcome.next_step == ingest.AfterIngest.ANALYSE and outcome.study.id == study.id
    assert study.status == Status.QUEUED and study.selected_series == series and series.is_selected
    assert series.spacing_between_slices_mm == pytest.approx(320 / 12, abs=1e-3)
    z = list(series.instances.order_by("z_position_mm").values_list("instance_number", flat=True))
    assert z == list(range(12, 0, -1))  # instance 1 is the most superior (largest z)
    assert actions_for(study)[-1] == "study.queued"


def test_ingest_study__falls_back_to_instance_number_without_positions(hospital_a, radiologist):
    receive(hospital=hospital_a, user=radiologist, files=ct_series(slices=9, with_position=False))
    study = ingest.ingest_study(study_id=Study.objects.get().id).study
    assert study.status == Status.QUEUED
    event = AuditEvent.objects.filter(action="study.queued").get()
    assert event.extra["ordered_by"] == "instance_number"
    assert study.selected_series.spacing_between_slices_mm == 5.0


def test_ingest_study__runs_twice_safely(hospital_a, radiologist, phantom_series):
    study = make_queued_study(hospital_a, radiologist, phantom_series)
    assert ingest.ingest_study(study_id=study.id).next_step == ingest.AfterIngest.NOTHING
    assert AuditEvent.objects.filter(action="study.queued").count() == 1


def test_ingest_study__corrupt_pixels_rejects_instance_and_fails_without_series(hospital_a, radiologist,
                                                                                study_storage):
    receive(hospital=hospital_a, user=radiologist, files=ct_series(slices=3))
    study = Study.objects.get()
    with pytest.raises(NoUsableSeries, match="No usable axial CT series: no axial CT series with at least 8"):
        ingest.ingest_study(study_id=study.id)
    path = study_storage / Instance.objects.first().storage_path
    path.write_bytes(path.read_bytes()[:400])
    study.refresh_from_db()
    assert study.lease_until is None
    with pytest.raises(NoUsableSeries):
        ingest.ingest_study(study_id=study.id)
    assert Instance.objects.exclude(decode_error="").count() == 1


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


def test_receive_instances__lists_studies_to_ingest(hospital_a, radiologist, phantom_series):
    files = read_paths(phantom_series(slices=12))
    first = receive(hospital=hospital_a, user=radiologist, files=files)
    assert first.studies_to_ingest == [Study.objects.get().id]
    ingest.ingest_study(study_id=Study.objects.get().id)
    assert receive(hospital=hospital_a, user=radiologist, files=files).studies_to_ingest == []  # all duplicates


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


def test_receive_instances__new_instances_reopen_queued_study(hospital_a, radiologist, phantom_series):
    study = make_queued_study(hospital_a, radiologist, phantom_series)
    uid = study.study_instance_uid
    receive(hospital=hospital_a, user=radiologist, files={"extra.dcm": ct_slice(study_uid=uid)})
    study.refresh_from_db()
    assert study.status == Status.RECEIVED and Series.objects.filter(study=study).count() == 2


def test_receive_instances__report_keeps_upload_order(hospital_a, radiologist):
    from tests.corpus.make_bad_inputs import bad_inputs
    files = {"1-good.dcm": ct_slice(), "2-bad.dcm": bad_inputs()["not_dicom.dcm"], "3-good.dcm": ct_slice()}
    report = receive(hospital=hospital_a, user=radiologist, files=files)
    assert [f.name for f in report.files] == ["1-good.dcm", "2-bad.dcm", "3-good.dcm"]


@pytest.mark.django_db
def test_study_transitions__keep_the_worklist_row_in_step(hospital_a):
    from triage.worklist.models import WorklistEntry

    study = Study.objects.create(hospital=hospital_a, study_instance_uid="9.8.7", status="processing")
    states.mark_study_failed(study_id=study.id, reason="Bad data.")
    assert WorklistEntry.objects.get(study=study).status == "failed"
