"""Tests of inference.volume_data: the labels file, NIfTI orientation, DICOM folders, phantom folders."""

from __future__ import annotations

import numpy as np
import pytest

from inference.phantom import make_phantom_volume, write_phantom_series
from inference.volume_data import (
    TrainingFolderError,
    read_case_volume,
    read_nifti,
    read_training_folder,
    read_training_slices,
    write_nifti,
    write_phantom_training_folder,
)


def _labels(folder, text):
    (folder / "labels.csv").write_text(text)


def test_read_training_folder__reads_labels_patients_and_metadata(tmp_path):
    (tmp_path / "a.nii.gz").write_bytes(b"")
    (tmp_path / "series").mkdir()
    _labels(tmp_path, "volume,patient,label,label_source,scanner\na.nii.gz,p1,covid,pcr,X\nseries,p2,Normal,radiologist,\n")
    first, second = read_training_folder(tmp_path)
    assert (first.is_positive, first.patient, first.metadata) == (True, "p1", {"label_source": "pcr", "scanner": "X"})
    assert (second.is_positive, second.case_id) == (False, f"{tmp_path.name}/series")


@pytest.mark.parametrize("text, message", [
    ("volume,label\na,covid\n", r"lacks the column\(s\) \['patient'\]"),
    ("volume,patient,label\nmissing.nii,p,covid\n", "line 2: volume 'missing.nii' does not exist"),
    ("volume,patient,label\nv,p,maybe\n", "line 2: label 'maybe' is not 'covid'"),
    ("volume,patient,label\n", "lists no volumes"),
])
def test_read_training_folder__names_what_is_wrong(tmp_path, text, message):
    (tmp_path / "v").mkdir()
    _labels(tmp_path, text)
    with pytest.raises(TrainingFolderError, match=message):
        read_training_folder(tmp_path)


def test_read_training_folder__missing_labels_file_is_named(tmp_path):
    with pytest.raises(TrainingFolderError, match="labels.csv is missing"):
        read_training_folder(tmp_path)


def test_read_nifti__any_affine_orientation_gives_the_same_lps_volume(tmp_path):
    import nibabel as nib

    hu = np.random.default_rng(0).integers(-1000, 500, size=(4, 5, 6)).astype(np.float32)
    canonical = read_nifti(write_nifti(tmp_path / "ras.nii", hu, spacing_mm=(3.0, 0.5, 0.7)))
    # The same voxels stored LPS-first (x and y axes reversed, affine saying so).
    ras = nib.load(str(tmp_path / "ras.nii"))
    lps_data = np.asarray(ras.dataobj)[::-1, ::-1, :]
    lps_affine = np.diag([-0.7, -0.5, 3.0, 1.0])
    lps_affine[:3, 3] = [0.7 * 5, 0.5 * 4, 0.0]
    nib.save(nib.Nifti1Image(lps_data, lps_affine), str(tmp_path / "lps.nii"))
    other = read_nifti(tmp_path / "lps.nii")
    np.testing.assert_array_equal(canonical.hu, hu)
    np.testing.assert_array_equal(other.hu, hu)
    assert canonical.spacing_mm == pytest.approx((3.0, 0.5, 0.7))


def test_read_case_volume__nifti_phantom_matches_its_dicom_series(tmp_path):
    write_phantom_series(tmp_path / "dicom", slices=8, size_px=64, severity="mild", seed=4)
    hu, spacing_mm, _, _ = make_phantom_volume(slices=8, size_px=64, severity="mild", seed=4)
    from_dicom = read_case_volume(tmp_path / "dicom")
    from_nifti = read_case_volume(write_nifti(tmp_path / "p.nii.gz", hu[::-1], spacing_mm=spacing_mm))
    np.testing.assert_allclose(from_nifti.hu, from_dicom.hu, atol=1.0)  # both inferior slice first


def test_write_phantom_training_folder__half_with_lesions_labelled_covid(tmp_path):
    cases = write_phantom_training_folder(tmp_path, count=4, slices=8, size_px=64, seed=1)
    assert [case.is_positive for case in cases] == [False, True, False, True]
    assert len({case.patient for case in cases}) == 4
    assert read_case_volume(cases[1].path).hu.shape == (8, 64, 64)


def test_read_training_slices__lung_slices_carry_their_study_label_and_patient(tmp_path):
    from inference.preprocess import plan_study

    cases = write_phantom_training_folder(tmp_path, count=2, slices=8, size_px=64, seed=3)
    slices = read_training_slices(tmp_path, size_px=32)
    lung_counts = [plan_study(read_case_volume(case.path).hu).slice_indices.size for case in cases]
    assert slices.images.shape == (sum(lung_counts), 32, 32) and slices.images.dtype == np.uint8
    assert slices.is_positive.tolist() == [False] * lung_counts[0] + [True] * lung_counts[1]
    assert slices.patients.tolist() == [cases[0].patient] * lung_counts[0] + [cases[1].patient] * lung_counts[1]
