"""Render one stored CT slice as a windowed 8-bit PNG (DICOM → HU → window → PNG), or hand its HU
to the browser as raw 16-bit samples so the viewer windows on a canvas without a round trip.

The DICOM and array steps are :mod:`inference` functions (the model sees slices through the
same HU conversion and the same windowing); this module checks the viewer's window and
encodes the PNG. The slice APIs read the file through storage and call :func:`render_slice_png` or :func:`slice_int16_le`.
"""
from __future__ import annotations

import io

import numpy as np
import pydicom
from PIL import Image

from inference.dicom_io import slice_hu as dataset_hu
from inference.explain.colormap import CONTROL_POINTS_HEX, colormap_lut
from inference.preprocess import (LUNG_WINDOW_HU, MEDIASTINAL_WINDOW_HU, hu_to_window_uint8, window_bounds_hu,
                                  window_level_width)

LUNG_WINDOW = window_level_width(LUNG_WINDOW_HU)  # (level_hu, width_hu) = (-600, 1500)
MEDIASTINAL_WINDOW = window_level_width(MEDIASTINAL_WINDOW_HU)  # (40, 400)
MAX_WIDTH_HU = 10_000.0
HEATMAP_COLORMAP = "inferno"  # the map the server draws Grad-CAM overlays and their colour bar with


def check_window(*, level_hu: float, width_hu: float) -> None:
    """Raise ``ValueError`` unless the window is finite, positive and at most ``MAX_WIDTH_HU`` wide."""
    if not np.isfinite(level_hu) or not np.isfinite(width_hu):
        raise ValueError("Window level and width must be finite numbers.")
    if not 1.0 <= width_hu <= MAX_WIDTH_HU:
        raise ValueError(f"Window width must be between 1 and {MAX_WIDTH_HU:g} HU.")
    if abs(level_hu) > 2 * MAX_WIDTH_HU:
        raise ValueError(f"Window level must be between {-2 * MAX_WIDTH_HU:g} and {2 * MAX_WIDTH_HU:g} HU.")


def window_to_uint8(image_hu: np.ndarray, *, level_hu: float, width_hu: float) -> np.ndarray:
    """Map HU linearly from [level − width/2, level + width/2] to 0…255, clipping outside; uint8 out."""
    check_window(level_hu=level_hu, width_hu=width_hu)
    hu_min, hu_max = window_bounds_hu(level_hu=level_hu, width_hu=width_hu)
    return hu_to_window_uint8(np.asarray(image_hu, dtype=np.float32), hu_min=hu_min, hu_max=hu_max)


def slice_hu(data: bytes) -> np.ndarray:
    """Decode one DICOM file to HU (the modality LUT, as the worker reads slices)."""
    return dataset_hu(pydicom.dcmread(io.BytesIO(data)))


def encode_png(image: np.ndarray) -> bytes:
    """Encode a 2-D uint8 array as a grey PNG (fast compression: the bytes go to one browser)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def render_slice_png(data: bytes, *, level_hu: float, width_hu: float) -> bytes:
    """Return the PNG of a DICOM slice shown with the given window."""
    return encode_png(window_to_uint8(slice_hu(data), level_hu=level_hu, width_hu=width_hu))


def heatmap_colormap() -> dict:
    """Return the heatmap colour map for the viewer's client-side re-blending: the 256-entry table and its stops.

    The viewer colours the raw heatmap with exactly the table the server's overlays use
    (:func:`inference.explain.colormap.colormap_lut`), and draws its colour bar from the stops.
    """
    return {"lut": colormap_lut(HEATMAP_COLORMAP).tolist(),
            "stops": [f"#{code.lower()}" for code in CONTROL_POINTS_HEX[HEATMAP_COLORMAP]]}


INT16_MIN_HU, INT16_MAX_HU = -32768, 32767


def slice_int16_le(data: bytes) -> tuple[bytes, int, int]:
    """Return a DICOM slice's HU as little-endian int16 samples, row-major, with (rows, columns).

    HU outside the int16 range (never seen in CT, −1024…+3071 typical) are clipped; values are
    rounded to whole HU, the precision of CT's stored values with slope 1.
    """
    hu = slice_hu(data)
    samples = np.clip(np.rint(hu), INT16_MIN_HU, INT16_MAX_HU).astype("<i2")
    return samples.tobytes(), int(hu.shape[0]), int(hu.shape[1])


AXIS_LETTERS = (("R", "L"), ("A", "P"), ("F", "H"))  # patient x, y, z: (negative, positive) direction


def _direction_letter(cosines: np.ndarray) -> str:
    axis = int(np.argmax(np.abs(cosines)))
    return AXIS_LETTERS[axis][int(cosines[axis] > 0)]


def orientation_labels(image_orientation_patient: list[float] | None) -> dict[str, str]:
    """Return the patient direction at each screen edge from (0020,0037) *Image Orientation (Patient)*.

    The row cosines point along increasing columns (screen right), the column cosines along
    increasing rows (screen down); a standard axial slice gives ``R`` left, ``L`` right, ``A`` top,
    ``P`` bottom. Without orientation: no labels (``{}``) rather than a guess.
    """
    if not image_orientation_patient or len(image_orientation_patient) != 6:
        return {}
    row, column = np.asarray(image_orientation_patient[:3], float), np.asarray(image_orientation_patient[3:], float)
    return {"right": _direction_letter(row), "left": _direction_letter(-row),
            "bottom": _direction_letter(column), "top": _direction_letter(-column)}
