"""Read DICOM CT series into Hounsfield-unit volumes, and 8-bit slice images.

Stored values become HU through pydicom's ``apply_modality_lut`` (RescaleSlope
(0028,1053), RescaleIntercept (0028,1052)). Compressed transfer syntaxes (JPEG,
JPEG 2000, RLE) decode when the pylibjpeg plugins are installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut

DicomSource = str | Path | Dataset
SORT_BY_POSITION = "image_position_patient"
SORT_BY_INSTANCE_NUMBER = "instance_number"
SORTED_BY_CALLER = "sorted_by_caller"  # the caller sorted once (ingest) and passed the positions
DEFAULT_ORIENTATION = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass(frozen=True)
class Volume:
    """A CT volume in HU with its geometry.

    Attributes
    ----------
    hu : float32 (z, y, x) Hounsfield units.
    spacing_mm : (z, y, x) voxel spacing; z from slice positions, y/x from PixelSpacing (0028,0030).
    orientation : ImageOrientationPatient (0020,0037): row then column direction cosines (patient LPS).
    slice_positions_mm : (z,) position of each slice along the slice normal.
    sort_method : ``SORT_BY_POSITION``, ``SORT_BY_INSTANCE_NUMBER`` (fallback when positions are missing)
        or ``SORTED_BY_CALLER``.
    manufacturer : Manufacturer (0008,0070) of the first slice ("" when absent).
    """

    hu: np.ndarray
    spacing_mm: tuple[float, float, float]
    orientation: tuple[float, float, float, float, float, float]
    slice_positions_mm: np.ndarray
    sort_method: str
    manufacturer: str = ""

    @property
    def x_points_to_patient_left(self) -> bool:
        """Return True if increasing x (image columns) moves towards the patient's left (radiological view)."""
        return self.orientation[0] > 0

    @property
    def slice_normal(self) -> np.ndarray:
        """Return the unit normal of the slices (row x column direction cosines)."""
        return _slice_normal(self.orientation)

    @property
    def superior_first(self) -> bool:
        """Return True when slice 0 is the most superior slice (patient LPS: larger z is superior)."""
        positions = np.asarray(self.slice_positions_mm, dtype=np.float64)
        if positions.size < 2:
            return True
        ascending = positions[-1] > positions[0]
        return bool((self.slice_normal[2] > 0) != ascending)


def _slice_normal(orientation: Sequence[float]) -> np.ndarray:
    normal = np.cross(np.asarray(orientation[:3], dtype=np.float64), np.asarray(orientation[3:], dtype=np.float64))
    return normal / max(float(np.linalg.norm(normal)), 1e-12)


def _as_dataset(source: DicomSource) -> Dataset:
    return source if isinstance(source, Dataset) else pydicom.dcmread(source)


def _orientation_of(dataset: Dataset) -> tuple[float, float, float, float, float, float]:
    values = dataset.get("ImageOrientationPatient", DEFAULT_ORIENTATION)
    return tuple(float(v) for v in values)  # type: ignore[return-value]


def slice_hu(dataset: Dataset) -> np.ndarray:
    """Decode one single-frame slice to float32 HU via (0028,1052) *Rescale Intercept* and (0028,1053) *Rescale Slope*."""
    pixels = dataset.pixel_array
    if pixels.ndim != 2:
        raise ValueError(f"expected single-frame slices, got pixel array of shape {pixels.shape}")
    return np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float32)


def sort_slices(datasets: Sequence[Dataset]) -> tuple[list[Dataset], np.ndarray, str]:
    """Order slices along the slice normal.

    Sort by ImagePositionPatient (0020,0032) projected on the normal of
    ImageOrientationPatient (0020,0037) when every slice has a position; otherwise by
    InstanceNumber (0020,0013), with positions then taken as index x SliceThickness
    (0018,0050) (or 1 mm), which assumes contiguous slices.

    Returns
    -------
    sorted datasets, their positions along the normal in mm, and the sort method used.
    """
    if all("ImagePositionPatient" in ds for ds in datasets):
        normal = _slice_normal(_orientation_of(datasets[0]))
        positions = np.array([np.dot(normal, np.asarray(ds.ImagePositionPatient, dtype=np.float64)) for ds in datasets])
        order = np.argsort(positions, kind="stable")
        return [datasets[i] for i in order], positions[order], SORT_BY_POSITION
    order = np.argsort([int(ds.get("InstanceNumber", index)) for index, ds in enumerate(datasets)], kind="stable")
    thickness_mm = float(datasets[0].get("SliceThickness", 1.0) or 1.0)
    return [datasets[i] for i in order], np.arange(len(datasets)) * thickness_mm, SORT_BY_INSTANCE_NUMBER


def read_series(sources: Sequence[DicomSource], *, positions_mm: Sequence[float] | None = None) -> Volume:
    """Read one CT series (file paths or pydicom Datasets, any order) into a HU :class:`Volume`.

    Parameters
    ----------
    sources : the series' single-frame slices; all must share Rows/Columns.
    positions_mm : when given, ``sources`` are already in order (sorted once, by the caller) at
        these positions along the slice normal, and are not sorted again.

    Returns
    -------
    Volume with ``hu`` (z, y, x) float32 sorted along the slice normal (see :func:`sort_slices`).
    z spacing is the median gap between sorted positions (SliceThickness (0018,0050) for one slice).
    """
    if not sources:
        raise ValueError("a series needs at least one slice")
    if positions_mm is None:
        datasets, positions, method = sort_slices([_as_dataset(source) for source in sources])
    else:
        if len(positions_mm) != len(sources):
            raise ValueError(f"{len(positions_mm)} positions for {len(sources)} slices")
        datasets, method = [_as_dataset(source) for source in sources], SORTED_BY_CALLER
        positions = np.asarray(positions_mm, dtype=np.float64)
    shapes = {(int(ds.Rows), int(ds.Columns)) for ds in datasets}
    if len(shapes) != 1:
        raise ValueError(f"slices of one series must share Rows/Columns, got {sorted(shapes)}")
    hu = np.stack([slice_hu(ds) for ds in datasets])
    row_mm, column_mm = (float(v) for v in datasets[0].get("PixelSpacing", (1.0, 1.0)))
    gaps = np.diff(positions)
    z_mm = float(np.median(gaps)) if gaps.size else float(datasets[0].get("SliceThickness", 1.0) or 1.0)
    return Volume(hu, (z_mm, row_mm, column_mm), _orientation_of(datasets[0]), positions, method,
                  str(datasets[0].get("Manufacturer", "") or ""))


def read_slice_image(path: str | Path) -> np.ndarray:
    """Read a PNG/JPG slice image as uint8 grayscale (h, w); colour images are converted to luma (ITU-R 601)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.uint8)
