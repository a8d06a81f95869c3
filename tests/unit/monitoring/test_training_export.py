"""Tests of export_training_set: labelled studies only, de-identified DICOM, tenancy, audit, and readable by the CLIs."""
from datetime import date

import numpy as np
import pydicom
import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.unit.studies.helpers import read_paths, receive
from triage.audit.models import AuditEvent
from triage.core.exceptions import NotFound
from triage.decisions.models import PcrOutcome
from triage.monitoring.training_export import ExportFolderNotEmpty, export_training_set
from triage.studies.models import Study
from triage.studies.services import ingest as study_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _isolated_storage(study_storage):
    return study_storage


def ingested(hospital, user, paths) -> Study:
    report = receive(hospital=hospital, user=user, files=read_paths(paths))
    study = Study.objects.get(id=report.studies_to_ingest[0])
    return study_ingest.ingest_study(study_id=study.id).study


def pcr(study, result, user):
    PcrOutcome.objects.create(study=study, result=result, sample_taken_on=date(2026, 1, 5), entered_by=user,
                              entered_at=timezone.now(), source=PcrOutcome.Source.FORM)


@pytest.fixture
def labelled_studies(hospital_a, admin_a, phantom_series):
    """Three studies of hospital A: PCR positive, PCR negative, PCR inconclusive."""
    studies = []
    for index, (severity, result) in enumerate([("moderate", "positive"), ("none", "negative"), ("mild", "inconclusive")]):
        paths = phantom_series(slices=8, size_px=64, severity=severity, seed=index, patient_id=f"PAT-{index}",
                               accession_number=f"ACC-{index}")
        study = ingested(hospital_a, admin_a, paths)
        pcr(study, result, admin_a)
        studies.append(study)
    return studies


def test_export_training_set__writes_deidentified_pcr_labelled_series_and_audits(labelled_studies, hospital_a, admin_a,
                                                                                 tmp_path):
    from inference.volume_data import read_case_volume, read_training_folder
    from triage.studies.volume import read_selected_volume

    export = export_training_set(user=admin_a, hospital=hospital_a, label_source="pcr", out=tmp_path / "set")
    assert export.studies == 2 and export.skipped == {"no definite label": 1}
    cases = read_training_folder(tmp_path / "set")
    assert [case.is_positive for case in cases] == [True, False]
    assert {case.metadata["label_source"] for case in cases} == {"pcr"}
    assert all(case.patient.startswith("ANON") and "PAT" not in case.patient for case in cases)
    header = pydicom.dcmread(next(cases[0].path.glob("*.dcm")))
    assert header.PatientIdentityRemoved == "YES" and str(header.PatientName) == ""
    assert header.PatientID.startswith("ANON") and "ACC-0" not in str(header.AccessionNumber)
    assert header.StudyInstanceUID != labelled_studies[0].study_instance_uid
    np.testing.assert_array_equal(read_case_volume(cases[0].path).hu, read_selected_volume(study=labelled_studies[0]).hu)
    event = AuditEvent.objects.get(action="monitoring.training_set_exported")
    assert event.actor == admin_a and event.hospital == hospital_a and event.extra["studies"] == 2


def test_export_training_set__radiologist_labels_need_a_signed_report(labelled_studies, hospital_a, admin_a, tmp_path):
    export = export_training_set(user=admin_a, hospital=hospital_a, label_source="radiologist", out=tmp_path / "set")
    assert export.studies == 0 and export.skipped == {"no definite label": 3}


def test_export_training_set__other_hospitals_admin_gets_not_found(labelled_studies, hospital_a, admin_b, tmp_path):
    with pytest.raises(NotFound):
        export_training_set(user=admin_b, hospital=hospital_a, label_source="pcr", out=tmp_path / "set")
    assert not (tmp_path / "set").exists()
    assert not AuditEvent.objects.filter(action="monitoring.training_set_exported").exists()


def test_export_training_set__platform_admin_any_hospital_and_folder_must_be_empty(labelled_studies, hospital_a,
                                                                                 platform_admin, tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "old.txt").write_text("x")
    with pytest.raises(ExportFolderNotEmpty, match="not empty"):
        export_training_set(user=platform_admin, hospital=hospital_a, label_source="pcr", out=tmp_path / "used")
    call_command("export_training_set", hospital="a", user=platform_admin.username, out=str(tmp_path / "set"))
    assert (tmp_path / "set" / "labels.csv").read_text().count("\n") == 3  # header + 2 studies


def test_export_training_set__radiologist_of_the_hospital_is_refused(labelled_studies, hospital_a, radiologist, tmp_path):
    with pytest.raises(PermissionDenied):
        export_training_set(user=radiologist, hospital=hospital_a, label_source="pcr", out=tmp_path / "set")


def test_export_training_set_command__names_an_unknown_hospital(platform_admin, tmp_path):
    with pytest.raises(CommandError, match="No hospital with code 'zz'"):
        call_command("export_training_set", hospital="zz", user=platform_admin.username, out=str(tmp_path / "set"))


def test_export_training_set__both_training_readers_take_the_folder(labelled_studies, hospital_a, admin_a, tmp_path):
    from inference.volume_data import read_training_slices
    from inference.volume_preprocess import CPU_GEOMETRY, prepare_volume
    from inference.volume_data import read_case_volume, read_training_folder

    export_training_set(user=admin_a, hospital=hospital_a, label_source="pcr", out=tmp_path / "set")
    slices = read_training_slices(tmp_path / "set", size_px=32)
    assert slices.images.shape[1:] == (32, 32) and set(slices.is_positive.tolist()) == {True, False}
    volume = prepare_volume(read_case_volume(read_training_folder(tmp_path / "set")[0].path).hu, geometry=CPU_GEOMETRY)
    assert volume.shape == (32, 96, 96)
