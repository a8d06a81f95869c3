"""The result as DICOM: highdicom re-reads each object, dciodvfy finds no error, UIDs are stable."""
import shutil
import subprocess
import warnings

import highdicom as hd
import pytest
from django.utils import timezone

from tests.unit.worklist.factories import add_overlay, add_result, make_study, store_series
from triage.exports import dicom_objects
from triage.exports import objects
from triage.exports.objects import build_result_objects, result_objects_for_dicomweb
from triage.reports.services import sign_report

SR_CLASS, SEG_CLASS, SC_CLASS = "1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.7"


@pytest.fixture
def study(hospital_a, study_storage, phantom_series):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        files = [p.read_bytes() for p in phantom_series(slices=12, size_px=64, severity="moderate", seed=5)]
    study = make_study(hospital=hospital_a, received_at=timezone.now())
    store_series(study=study, files=files)
    result = add_result(study=study, probability=0.87, label="covid19", lesion_fraction=0.12, severity=9)
    add_overlay(result=result, slice_index=5, size_px=64)
    return study


def measurements(group) -> dict[str, float]:
    return {f"{m.name.meaning}@{m.finding_sites[0].value.meaning if m.finding_sites else ''}": m.value
            for m in group.get_measurements()}


@pytest.mark.django_db
def test_build_result_objects__highdicom_reads_back_sr_seg_and_key_images(study):
    seg, sr, key_image = build_result_objects(study=study).datasets

    seg = hd.seg.Segmentation.from_dataset(seg)
    assert [seg.get_segment_description(n).segment_label for n in seg.get_segment_numbers()] == [
        "Left lung", "Right lung", "Ground glass opacity", "Consolidation"]
    assert {uid for _, _, uid in seg.get_source_image_uids()} == set(
        study.selected_series.instances.values_list("sop_instance_uid", flat=True))
    algorithm = seg.get_segment_description(1).algorithm_identification[0]
    assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == ("covidnet-ct-s", "test")
    report = hd.sr.Comprehensive3DSR.from_dataset(sr)
    content = hd.sr.MeasurementReport.from_sequence([report])
    [whole] = content.get_image_measurement_groups()
    values = measurements(whole)
    assert values["COVID-19 probability@"] == pytest.approx(0.87)
    assert values["Chest CT severity score (0-25)@"] == 9
    assert values["Mean@Lesion"] == pytest.approx(-512.0)
    evaluations = {e.name.meaning: e.value.meaning for e in whole.get_qualitative_evaluations()}
    assert evaluations == {"Predicted class": "COVID-19", "Radiologist review status": "Not yet reviewed by a radiologist"}
    left, right = content.get_volumetric_roi_measurement_groups()
    assert [g.finding_sites[0].value.meaning for g in (left, right)] == ["Left lung", "Right lung"]
    assert measurements(left)["Volume@Ground glass opacity"] > 0
    assert measurements(left)["Volume@"] == 2000  # the group's finding site is the left lung
    assert measurements(right)["Lesion volume as percentage of lung volume@"] == pytest.approx(14.4)
    assert [g.referenced_segment.referenced_segment_numbers for g in (left, right)] == [[1], [2]]
    assert left.referenced_segment.referenced_sop_instance_uid == seg.SOPInstanceUID
    assert key_image.SOPClassUID == SC_CLASS and key_image.pixel_array.shape == (64, 64, 3)


@pytest.mark.django_db
def test_build_result_objects__uids_are_stable_and_sign_off_changes_only_the_sr(study, radiologist):
    first = build_result_objects(study=study)
    again = build_result_objects(study=study)
    sign_report(study=study, actor=radiologist, label="covid19", expected_version=0)
    signed = build_result_objects(study=study)

    assert again.sop_instance_uids == first.sop_instance_uids
    assert signed.revision == 1
    changed = [a != b for a, b in zip(first.sop_instance_uids, signed.sop_instance_uids)]
    assert changed == [False, True, False]  # SEG, SR, key image
    content = hd.sr.MeasurementReport.from_sequence([signed.datasets[1]])
    [whole] = content.get_image_measurement_groups()
    assert {e.name.meaning: e.value.meaning for e in whole.get_qualitative_evaluations()}[
        "Radiologist review status"] == "Radiologist confirmed the AI label"


@pytest.mark.django_db
def test_result_objects_for_dicomweb__built_once_per_revision_then_read_from_the_store(study, radiologist,
                                                                                     monkeypatch):
    served = result_objects_for_dicomweb(study)
    built = build_result_objects(study=study)
    monkeypatch.setattr(objects, "build_result_objects", lambda **kw: pytest.fail("rebuilt a cached result"))
    cached = result_objects_for_dicomweb(study)
    monkeypatch.undo()
    sign_report(study=study, actor=radiologist, label="covid19", expected_version=0)
    signed = result_objects_for_dicomweb(study)

    assert cached == served
    assert [o.sop_instance_uid for o in served] == built.sop_instance_uids
    # a sign-off changes the SR only
    assert [a.sop_instance_uid == b.sop_instance_uid for a, b in zip(served, signed)] == [True, False, True]


@pytest.mark.django_db
def test_result_objects_for_dicomweb__nothing_without_a_current_result(study):
    study.results.update(is_current=False)

    assert result_objects_for_dicomweb(study) == []


@pytest.mark.django_db
def test_build_result_objects__dciodvfy_finds_no_error(study, tmp_path):
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy is absent: install Debian dicom3tools (tests/run.sh does)")
    for dataset in build_result_objects(study=study).datasets:
        path = tmp_path / f"{dataset.Modality}.dcm"
        dataset.save_as(path)
        run = subprocess.run(["dciodvfy", "-new", str(path)], capture_output=True, text=True, timeout=60)
        errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]
        assert not errors, f"{dataset.Modality}: {errors}"


def test_derived_uid__is_a_valid_uid_that_depends_on_every_input():
    uid = dicom_objects.derived_uid("1.2.3", "m/1", 0, "sr")

    assert uid == dicom_objects.derived_uid("1.2.3", "m/1", 0, "sr")
    assert len({uid, dicom_objects.derived_uid("1.2.4", "m/1", 0, "sr"), dicom_objects.derived_uid(
        "1.2.3", "m/2", 0, "sr"), dicom_objects.derived_uid("1.2.3", "m/1", 1, "sr")}) == 4
    assert uid.startswith("2.25.") and len(uid) <= 64
