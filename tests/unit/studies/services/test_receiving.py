from unittest import mock

import pytest
from django.core.files.storage import default_storage

from tests.corpus.make_bad_inputs import ct_series, ct_slice
from tests.unit.studies.helpers import actions_for, make_queued_study, read_paths, receive
from triage.accounts.models import Role
from triage.core.exceptions import NotFound
from triage.studies.models import Instance, Series, Study
from triage.studies.services import ingest

pytestmark = pytest.mark.django_db
Status = Study.Status


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


def test_receive_instances__lists_studies_to_ingest(hospital_a, radiologist, phantom_series):
    files = read_paths(phantom_series(slices=12))
    first = receive(hospital=hospital_a, user=radiologist, files=files)
    assert first.studies_to_ingest == [Study.objects.get().id]
    ingest.ingest_study(study_id=Study.objects.get().id)
    assert receive(hospital=hospital_a, user=radiologist, files=files).studies_to_ingest == []  # all duplicates


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
