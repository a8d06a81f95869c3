"""Tests of inference.dicom_io on synthetic slices and, when present, the shared DICOM files."""

from __future__ import annotations

import importlib.util

import numpy as np
import pydicom
import pytest
from PIL import Image

from inference.dicom_io import SORT_BY_INSTANCE_NUMBER, SORT_BY_POSITION, read_series, read_slice_image
from inference.preprocess import preprocess_study
from tests.unit.inference.factories import make_ct_slice, require_shared


def _stored(value: int) -> np.ndarray:
    return np.full((4, 5), value, np.uint16)


def test_read_series__applies_rescale_slope_and_intercept():
    volume = read_series([make_ct_slice(_stored(1000), z_mm=0.0, slope=2.0, intercept=-1024.0)])
    assert volume.hu.dtype == np.float32 and volume.hu.shape == (1, 4, 5)
    assert np.all(volume.hu == 2.0 * 1000 - 1024.0)


def test_read_series__sorts_by_position_along_normal_and_measures_spacing():
    slices = [make_ct_slice(_stored(v), z_mm=z, instance_number=i) for i, (v, z) in enumerate([(30, 5.0), (10, -5.0), (20, 0.0)])]
    volume = read_series(slices)
    assert volume.sort_method == SORT_BY_POSITION
    assert volume.hu[:, 0, 0].tolist() == [10 - 1024, 20 - 1024, 30 - 1024]
    assert volume.spacing_mm == pytest.approx((5.0, 0.7, 0.8))
    assert volume.slice_positions_mm.tolist() == [-5.0, 0.0, 5.0]


def test_read_series__projects_positions_on_the_oblique_normal():
    # rows along y, columns along z: the normal is +x (row x column = (0,1,0) x (0,0,1)); z positions alone cannot sort.
    orientation = (0, 1, 0, 0, 0, 1)
    slices = [make_ct_slice(_stored(v), z_mm=0.0, orientation=orientation) for v in (2, 1)]
    slices[0].ImagePositionPatient, slices[1].ImagePositionPatient = [4.0, 0, 0], [1.0, 0, 0]
    volume = read_series(slices)
    assert volume.hu[:, 0, 0].tolist() == [1 - 1024, 2 - 1024] and volume.spacing_mm[0] == pytest.approx(3.0)
    np.testing.assert_allclose(volume.slice_normal, [1, 0, 0])


def test_read_series__falls_back_to_instance_number_without_positions():
    slices = [make_ct_slice(_stored(v), z_mm=0, instance_number=n, with_position=False) for v, n in [(7, 3), (5, 1), (6, 2)]]
    volume = read_series(slices)
    assert volume.sort_method == SORT_BY_INSTANCE_NUMBER
    assert volume.hu[:, 0, 0].tolist() == [5 - 1024, 6 - 1024, 7 - 1024]
    assert volume.spacing_mm[0] == pytest.approx(2.5)  # SliceThickness


@pytest.mark.parametrize("row_x, expected", [(1.0, True), (-1.0, False)])
def test_read_series__reports_patient_left_direction(row_x, expected):
    volume = read_series([make_ct_slice(_stored(0), z_mm=0, orientation=(row_x, 0, 0, 0, 1, 0))])
    assert volume.x_points_to_patient_left is expected


def test_read_series__reads_files_from_paths(tmp_path):
    paths = []
    for index, z in enumerate((2.0, 1.0)):
        path = tmp_path / f"s{index}.dcm"
        make_ct_slice(_stored(index), z_mm=z).save_as(path, enforce_file_format=True)
        paths.append(path)
    assert read_series(paths).hu[:, 0, 0].tolist() == [1 - 1024, 0 - 1024]


def test_read_series__rejects_mixed_sizes_and_empty_input():
    with pytest.raises(ValueError, match="Rows/Columns"):
        read_series([make_ct_slice(np.zeros((4, 4), np.uint16), z_mm=0), make_ct_slice(np.zeros((4, 5), np.uint16), z_mm=1)])
    with pytest.raises(ValueError, match="at least one"):
        read_series([])


def test_read_slice_image__converts_colour_to_uint8_grey(tmp_path):
    path = tmp_path / "slice.png"
    Image.fromarray(np.full((3, 4, 3), (255, 0, 0), np.uint8)).save(path)
    grey = read_slice_image(path)
    assert grey.dtype == np.uint8 and grey.shape == (3, 4) and grey[0, 0] == 76  # ITU-R 601 luma of pure red


@pytest.mark.parametrize(
    "relative, plugin, rows_columns",
    [("pydicom_data_1.0.0/693_J2KR.dcm", "openjpeg", (512, 512)), ("notZaki_DICOMSamples/CT_JPEG70.dcm", "libjpeg", (400, 512))],
)
def test_read_series__decodes_compressed_transfer_syntaxes(relative, plugin, rows_columns):
    path = require_shared(f"dicom-format-tests/{relative}")
    if importlib.util.find_spec(plugin) is None:
        pytest.skip(f"pylibjpeg plugin {plugin!r} is not installed: this transfer syntax cannot be decoded")
    dataset = pydicom.dcmread(path)
    volume = read_series([path])
    assert volume.hu.shape == (1, *rows_columns)
    expected = dataset.pixel_array.astype(np.float64) * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
    np.testing.assert_allclose(volume.hu[0], expected)
    assert volume.hu.std() > 50  # a real image, not a constant decode failure


def test_read_series__rejects_multiframe_with_clear_error():
    path = require_shared("dicom-format-tests/pydicom_data_1.0.0/eCT_Supplemental.dcm")
    with pytest.raises(ValueError, match="single-frame"):
        read_series([path])


def test_read_series__sorts_real_chest_series_and_preprocesses_it():
    folder = require_shared("dicom-series-lung-pet-ct-dx/Lung_Dx-A0002")
    paths = sorted(folder.rglob("*.dcm"), reverse=True)
    volume = read_series(paths)
    positions = [float(pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient[2]) for p in paths]
    assert volume.hu.shape[0] == len(paths)
    assert np.all(np.diff(volume.slice_positions_mm) > 0)
    assert volume.spacing_mm[0] == pytest.approx(abs(np.median(np.diff(sorted(positions)))))
    assert volume.hu.min() < -900 and volume.hu.max() > 300
    study = preprocess_study(volume.hu, size_px=256)
    assert 0 < study.slice_indices.size <= volume.hu.shape[0]


def test_read_series__with_positions_keeps_the_callers_order(tmp_path):
    from inference.dicom_io import SORTED_BY_CALLER, read_series
    from inference.phantom import write_phantom_series

    write_phantom_series(tmp_path, slices=8, size_px=64, severity="none", seed=0)
    paths = sorted(tmp_path.glob("*.dcm"))
    sorted_volume = read_series(paths)
    given = read_series(list(reversed(paths)), positions_mm=[float(p) for p in range(8)])
    assert given.sort_method == SORTED_BY_CALLER and given.spacing_mm[0] == 1.0
    assert list(given.slice_positions_mm) == [float(p) for p in range(8)]
    resorted = read_series(list(reversed(paths)))
    assert np.array_equal(resorted.hu, sorted_volume.hu)  # without positions the slices are sorted
    with pytest.raises(ValueError, match="2 positions for 8 slices"):
        read_series(paths, positions_mm=[0.0, 1.0])
