import io

import numpy as np
import pytest
from PIL import Image

from tests.unit.worklist.factories import ct_dicom
from triage.worklist import imaging
from triage.worklist.imaging import render_slice_png, slice_hu, window_to_uint8


def expected_window(hu: np.ndarray, level: float, width: float) -> np.ndarray:
    """Independent formula: 255 · (HU − low) / width, clipped, rounded half up."""
    low = level - width / 2
    return np.floor(np.clip((hu - low) / width * 255.0, 0, 255) + 0.5).astype(np.uint8)


@pytest.mark.parametrize("level, width", [(-600, 1500), (40, 400), (0, 1)])
def test_window_to_uint8__matches_linear_window(level, width):
    hu = np.array([[-2000, -1350, -1050, -597, 10, 150, 900]], np.float32)
    assert np.array_equal(window_to_uint8(hu, level_hu=level, width_hu=width), expected_window(hu, level, width))


def test_window_to_uint8__lung_window_known_values():
    hu = np.array([-2000, -1350, -1050, -597, 10, 150, 900], np.float32)
    assert window_to_uint8(hu, level_hu=-600, width_hu=1500).tolist() == [0, 0, 51, 128, 231, 255, 255]


@pytest.mark.parametrize("level, width", [(0, 0), (0, -5), (float("nan"), 100), (0, 1e9)])
def test_window_to_uint8__rejects_bad_windows(level, width):
    with pytest.raises(ValueError):
        window_to_uint8(np.zeros((2, 2)), level_hu=level, width_hu=width)


def test_slice_hu__applies_rescale_slope_and_intercept():
    stored = np.array([[0, 100], [1000, 2000]], np.int16)
    assert slice_hu(ct_dicom(stored, intercept=-1000, slope=2)).tolist() == [[-1000, -800], [1000, 3000]]


def test_render_slice_png__is_a_grey_png_of_the_windowed_slice():
    stored = np.array([[0, 653], [1024, 2524]], np.int16)  # HU -1024, -371, 0, 1500
    png = render_slice_png(ct_dicom(stored), level_hu=-600, width_hu=1500)
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.mode, image.size) == ("PNG", "L", (2, 2))
    assert np.array_equal(np.asarray(image), expected_window(stored.astype(np.float32) - 1024, -600, 1500))


def test_lung_window__viewer_default_is_the_window_the_model_sees():
    from inference.preprocess import LUNG_WINDOW_HU, hu_to_window_uint8
    from triage.worklist.imaging import LUNG_WINDOW

    assert LUNG_WINDOW == (-600.0, 1500.0)
    hu = np.linspace(-2000, 1000, 301, dtype=np.float32)
    level, width = LUNG_WINDOW
    assert np.array_equal(window_to_uint8(hu, level_hu=level, width_hu=width),
                          hu_to_window_uint8(hu, hu_min=LUNG_WINDOW_HU[0], hu_max=LUNG_WINDOW_HU[1]))


@pytest.mark.parametrize("orientation, expected", [
    ([1, 0, 0, 0, 1, 0], {"left": "R", "right": "L", "top": "A", "bottom": "P"}),   # standard axial
    ([-1, 0, 0, 0, -1, 0], {"left": "L", "right": "R", "top": "P", "bottom": "A"}),  # rotated 180°
    ([1, 0, 0, 0, 0, -1], {"left": "R", "right": "L", "top": "H", "bottom": "F"}),   # coronal
    (None, {}),
])
def test_orientation_labels__edges_follow_the_direction_cosines(orientation, expected):
    assert imaging.orientation_labels(orientation) == expected


def test_slice_int16_le__rounds_hu_and_clips_to_int16():
    stored = np.array([[0, 512, 1000], [-100, 20000, 30000]], dtype=np.int16)
    samples, rows, columns = imaging.slice_int16_le(ct_dicom(stored, slope=2.0, intercept=-1024.0))
    hu = np.frombuffer(samples, dtype="<i2").reshape(rows, columns)
    expected = np.clip(stored.astype(np.int64) * 2 - 1024, -32768, 32767)  # 30000 · 2 − 1024 clips to 32767
    assert (rows, columns) == (2, 3) and hu.tolist() == expected.tolist()
