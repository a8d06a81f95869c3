"""Tests for the synthetic DICOM CT phantom generator."""

import json

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, RLELossless

from inference.phantom import main, make_phantom_volume, write_phantom_series

SMALL = {"slices": 24, "size_px": 96}


@pytest.fixture(scope="module")
def moderate():
    return make_phantom_volume(slices=32, size_px=128, severity="moderate", seed=3)


def test_make_phantom_volume__volumes_equal_mask_voxel_counts(moderate):
    hu, spacing_mm, masks, info = moderate
    voxel_ml = spacing_mm[0] * spacing_mm[1] * spacing_mm[2] / 1000.0
    assert info.lung_ml["left"] == pytest.approx(masks.lung_left.sum() * voxel_ml)
    assert info.lung_ml["right"] == pytest.approx(masks.lung_right.sum() * voxel_ml)
    assert info.lesion_ml["ggo"] == pytest.approx(masks.ggo.sum() * voxel_ml)
    assert info.lesion_ml["consolidation"] == pytest.approx(masks.consolidation.sum() * voxel_ml)
    assert info.lesion_ml["total"] == pytest.approx((masks.ggo | masks.consolidation).sum() * voxel_ml)


def test_make_phantom_volume__returns_float32_zyx_volume_with_mm_spacing(moderate):
    hu, spacing_mm, _, _ = moderate
    assert hu.dtype == np.float32 and hu.shape == (32, 128, 128)
    assert spacing_mm == pytest.approx((320.0 / 32, 350.0 / 128, 350.0 / 128), abs=1e-4)


def test_make_phantom_volume__tissues_have_their_hu(moderate):
    hu, _, masks, _ = moderate
    lungs = masks.lung_left | masks.lung_right
    parenchyma = lungs & ~masks.ggo & ~masks.consolidation & (hu < -600)
    assert np.median(hu[parenchyma]) == pytest.approx(-850, abs=10)
    assert np.median(hu[masks.ggo]) == pytest.approx(-550, abs=10)
    assert hu[masks.consolidation].min() > -300
    assert np.median(hu[0, :10, :10]) == pytest.approx(-1000, abs=10)
    assert 10 < np.std(hu[0, :10, :10]) < 25


def test_make_phantom_volume__left_lung_lies_at_higher_columns(moderate):
    _, _, masks, _ = moderate
    left_columns = np.argwhere(masks.lung_left)[:, 2]
    right_columns = np.argwhere(masks.lung_right)[:, 2]
    assert left_columns.min() > 64 > right_columns.max()


def test_make_phantom_volume__end_slices_have_no_lung(moderate):
    _, _, masks, _ = moderate
    per_slice = (masks.lung_left | masks.lung_right).sum(axis=(1, 2))
    assert per_slice[0] == 0 and per_slice[-1] == 0
    assert (per_slice > 0).mean() > 0.7


def test_make_phantom_volume__lesions_lie_inside_their_lung(moderate):
    _, _, masks, info = moderate
    lesions = masks.ggo | masks.consolidation
    assert not (lesions & ~(masks.lung_left | masks.lung_right)).any()
    assert not (masks.ggo & masks.consolidation).any()
    for lesion in info.lesions:
        lung = masks.lung_left if lesion.lung == "left" else masks.lung_right
        assert lung[lesion.centre_voxel]
        assert lesion.zone in ("upper", "middle", "lower")


def test_make_phantom_volume__none_has_no_lesions():
    _, _, masks, info = make_phantom_volume(**SMALL, severity="none")
    assert not masks.ggo.any() and not masks.consolidation.any()
    assert info.lesion_ml == {"ggo": 0.0, "consolidation": 0.0, "total": 0.0}
    assert info.lesions == ()


def test_make_phantom_volume__lesion_volume_grows_with_severity():
    totals = [make_phantom_volume(**SMALL, severity=s)[3].lesion_ml["total"] for s in ("mild", "moderate", "severe")]
    assert 0 < totals[0] < totals[1] < totals[2]


def test_make_phantom_volume__is_deterministic_per_seed():
    first = make_phantom_volume(**SMALL, seed=7)[0]
    again = make_phantom_volume(**SMALL, seed=7)[0]
    other = make_phantom_volume(**SMALL, seed=8)[0]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("kwargs", [{"severity": "extreme"}, {"slices": 4}, {"size_px": 16}])
def test_make_phantom_volume__rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        make_phantom_volume(**kwargs)


def _read_series(info):
    return [pydicom.dcmread(path) for path in info.files]


def test_write_phantom_series__writes_one_valid_ct_file_per_slice(tmp_path):
    info = write_phantom_series(tmp_path, **SMALL, seed=1)
    datasets = _read_series(info)
    assert len(datasets) == SMALL["slices"]
    for index, ds in enumerate(datasets):
        assert ds.preamble == b"\x00" * 128
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.SOPClassUID == CTImageStorage == ds.file_meta.MediaStorageSOPClassUID
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.Modality == "CT" and ds.InstanceNumber == index + 1
        assert [float(c) for c in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        assert (ds.RescaleSlope, ds.RescaleIntercept) == (1, -1024)
        assert ds.pixel_array.dtype == np.int16
    assert len({ds.SOPInstanceUID for ds in datasets}) == len(datasets)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "PatientID"):
        assert len({ds.data_element(keyword).value for ds in datasets}) == 1
    assert datasets[0].StudyInstanceUID == info.study_instance_uid
    assert datasets[0].StudyInstanceUID != datasets[0].SeriesInstanceUID


def test_write_phantom_series__positions_step_by_slice_spacing(tmp_path):
    info = write_phantom_series(tmp_path, **SMALL)
    z_mm = np.array([float(ds.ImagePositionPatient[2]) for ds in _read_series(info)])
    np.testing.assert_allclose(np.diff(z_mm), -info.spacing_mm[0], atol=1e-3)
    assert float(_read_series(info)[0].SpacingBetweenSlices) == pytest.approx(info.spacing_mm[0])


def test_write_phantom_series__stored_values_round_trip_to_hu(tmp_path):
    info = write_phantom_series(tmp_path, **SMALL, seed=2)
    expected_hu = make_phantom_volume(**SMALL, seed=2)[0]
    read_hu = np.stack([apply_modality_lut(ds.pixel_array, ds) for ds in _read_series(info)])
    assert np.abs(read_hu - expected_hu).max() <= 0.5 + 1e-3


def test_write_phantom_series__sidecar_holds_ground_truth(tmp_path):
    info = write_phantom_series(tmp_path, **SMALL, severity="severe")
    sidecar = json.loads((tmp_path / "phantom.json").read_text())
    assert sidecar["severity"] == "severe"
    assert sidecar["lesion_ml"]["total"] == pytest.approx(info.lesion_ml["total"])
    assert sidecar["lesion_ml_by_lung"]["left"]["total"] + sidecar["lesion_ml_by_lung"]["right"]["total"] == (
        pytest.approx(info.lesion_ml["total"])
    )
    assert set(sidecar["lung_ml"]) == {"left", "right", "total"}
    assert {lesion["zone"] for lesion in sidecar["lesions"]} <= {"upper", "middle", "lower"}
    assert sidecar["series_instance_uid"] == info.series_instance_uid


def test_write_phantom_series__uses_given_identifiers(tmp_path):
    info = write_phantom_series(
        tmp_path, **SMALL, patient_id="P-42", study_instance_uid="1.2.3.4", accession_number="ACC9"
    )
    ds = _read_series(info)[0]
    assert (ds.PatientID, ds.StudyInstanceUID, ds.AccessionNumber) == ("P-42", "1.2.3.4", "ACC9")


def test_write_phantom_series__encodes_rle_lossless(tmp_path):
    info = write_phantom_series(tmp_path, **SMALL, transfer_syntax=RLELossless)
    ds = _read_series(info)[5]
    assert ds.file_meta.TransferSyntaxUID == RLELossless
    expected_hu = make_phantom_volume(**SMALL)[0][5]
    assert np.abs(apply_modality_lut(ds.pixel_array, ds) - expected_hu).max() <= 0.5 + 1e-3


def test_main__writes_series_and_prints_truth(tmp_path, capsys):
    main(["--out", str(tmp_path), "--slices", "12", "--size", "64", "--severity", "mild", "--seed", "4"])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["severity"] == "mild" and printed["seed"] == 4
    assert len(list(tmp_path.glob("*.dcm"))) == 12


def test_make_phantom_volume__point_spread_creates_partial_volume_edges():
    sharp = make_phantom_volume(slices=16, size_px=256, severity="none", psf_sigma_mm=0.0)[0]
    blurred = make_phantom_volume(slices=16, size_px=256, severity="none", psf_sigma_mm=1.5)[0]

    def between_lung_and_tissue(hu):
        return np.count_nonzero((hu > -700) & (hu < -300))

    assert between_lung_and_tissue(blurred) > 10 * max(between_lung_and_tissue(sharp), 1)
    assert np.abs(np.median(blurred - sharp)) < 1.0


def test_make_phantom_volume__shortest_scan_drops_lesions_that_fall_between_slices():
    hu, _, masks, info = make_phantom_volume(slices=8, size_px=64, severity="moderate", seed=0)
    assert all(lesion.volume_ml > 0 for lesion in info.lesions)
    voxel_ml = float(np.prod(info.spacing_mm)) / 1000.0
    assert info.lesion_ml["total"] == pytest.approx((masks.ggo | masks.consolidation).sum() * voxel_ml, rel=1e-6)
