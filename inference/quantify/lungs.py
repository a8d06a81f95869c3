"""Segment the lungs of a chest CT volume in HU and split them into the patient's left and right.

Rule, in order (all thresholds are keyword parameters):

1. Air: voxels below ``threshold_hu`` (-320 HU).
2. Outside air: 6-connected air components touching the in-plane border of the volume
   (the air around the body and under the table) are discarded.
3. Airway: components whose largest axial cross-section stays below ``airway_max_area_mm2``
   are tubes, not lungs: the trachea and main bronchi when they are not joined to a lung
   at this threshold, and stray air pockets (oesophagus, bowel gas). Components smaller
   than ``min_lung_ml`` are discarded too. An airway joined to a lung at -320 HU stays part of
   that lung here (typically 20–40 ml); :func:`inference.quantify.report.quantify_volume` takes
   the airway lumen grown from the trachea out again (:mod:`inference.quantify.airways`).
4. Lungs: the two largest remaining components. If the second is smaller than
   ``joined_ratio`` × the largest, the lungs are taken to be joined (thin anterior or
   posterior junction) and the largest is split, slice by slice, at the column (for the
   usual orientations) of least lung within the middle third of its left-right extent
   (ties go to the column nearest the centre).
5. Each lung is closed in-plane (radius ``closing_radius_mm``, seals vessels at the border)
   and its holes are filled slice by slice (vessels, enclosed consolidation).
6. Side: the lung whose centroid lies further along patient +x (LPS: patient left) per
   ImageOrientationPatient (0020,0037) is the LEFT lung.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import ndimage

from inference.quantify.morphology import bounding_box, centroid_zyx, close_per_slice, fill_holes_per_slice

HFS_ORIENTATION = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass(frozen=True)
class LungMasks:
    """Boolean ``(z, y, x)`` masks of the patient's left and right lung (disjoint)."""

    left: np.ndarray
    right: np.ndarray

    @property
    def both(self) -> np.ndarray:
        """Return the union of both lungs."""
        return np.asarray(self.left | self.right)


def left_right_axis(orientation: Sequence[float]) -> int:
    """Return the volume axis (2 = columns, 1 = rows) closest to the patient's left-right direction.

    ``orientation`` is ImageOrientationPatient (0020,0037): the row direction cosines (along
    which the column index grows) then the column direction cosines.
    """
    return 2 if abs(orientation[0]) >= abs(orientation[3]) else 1


def patient_x_mm(
    voxel_zyx: Sequence[float], *, orientation: Sequence[float], spacing_mm: Sequence[float]
) -> float:
    """Return the patient x (LPS, + = patient left) of a voxel position relative to voxel (·, 0, 0), in mm."""
    return float(
        orientation[0] * voxel_zyx[2] * spacing_mm[2] + orientation[3] * voxel_zyx[1] * spacing_mm[1]
    )


def _candidate_components(
    air: np.ndarray, *, spacing_mm: Sequence[float], min_lung_ml: float, airway_max_area_mm2: float
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Label air; return the labels and the lung candidates as (label, voxel count), largest first (rules 2–3)."""
    labels, count = ndimage.label(air)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    outside = np.zeros(count + 1, dtype=bool)
    for face in (labels[:, 0, :], labels[:, -1, :], labels[:, :, 0], labels[:, :, -1]):
        outside[np.unique(face)] = True
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    pixel_mm2 = float(spacing_mm[1] * spacing_mm[2])
    big = np.flatnonzero((sizes * voxel_ml >= min_lung_ml) & ~outside)
    big = big[big > 0]
    boxes = ndimage.find_objects(labels)
    candidates = []
    for label in big[np.argsort(sizes[big])[::-1]]:
        box = boxes[label - 1]
        largest_section_mm2 = (labels[box] == label).sum(axis=(1, 2)).max() * pixel_mm2
        if largest_section_mm2 >= airway_max_area_mm2:
            candidates.append((int(label), int(sizes[label])))
    return labels, candidates


def _split_joined(mask: np.ndarray, *, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Split a mask into two halves along ``axis``, per slice, at the least-filled position of its middle third."""
    moved = np.moveaxis(mask, axis, 2)  # (z, other, lr)
    profile = moved.sum(axis=1)  # (z, lr)
    present = np.flatnonzero(profile.any(axis=0))
    low, high = present[0], present[-1]
    window = np.arange(low + (high - low) // 3, low + 2 * (high - low) // 3 + 1)
    tie_break = 1e-3 * np.abs(window - (low + high) / 2.0)  # equal minima: prefer the centre
    cut = window[np.argmin(profile[:, window] + tie_break, axis=1)]  # (z,)
    before = np.arange(moved.shape[2])[None, None, :] < cut[:, None, None]
    return np.moveaxis(moved & before, 2, axis), np.moveaxis(moved & ~before, 2, axis)


def _close_and_fill(lung: np.ndarray, *, closing_radius_px: int) -> np.ndarray:
    """Close and hole-fill one lung inside its bounding box (rule 5)."""
    box = bounding_box(lung, margin_px=closing_radius_px + 2)
    if box is None:
        return lung.copy()
    result = np.zeros_like(lung)
    result[box] = fill_holes_per_slice(close_per_slice(lung[box], radius_px=closing_radius_px))
    return result


def segment_lungs(
    hu_volume: np.ndarray,
    *,
    spacing_mm: Sequence[float],
    orientation: Sequence[float] = HFS_ORIENTATION,
    threshold_hu: float = -320.0,
    min_lung_ml: float = 50.0,
    airway_max_area_mm2: float = 700.0,
    joined_ratio: float = 0.2,
    closing_radius_mm: float = 3.0,
) -> LungMasks:
    """Segment and side the lungs of a chest CT volume (rules in the module docstring).

    Parameters
    ----------
    hu_volume : (z, y, x) Hounsfield units; not modified.
    spacing_mm : (z, y, x) voxel spacing in mm.
    orientation : ImageOrientationPatient (0020,0037), default head-first supine axial.
    threshold_hu : air/tissue threshold in HU.
    min_lung_ml : smallest component volume kept as a lung, ml.
    airway_max_area_mm2 : components whose largest axial section is below this are airway, mm².
    joined_ratio : second/largest volume ratio below which the lungs are split as joined.
    closing_radius_mm : in-plane closing radius, mm.

    Returns
    -------
    LungMasks with boolean (z, y, x) left and right masks (empty if no lung is found).
    """
    if len(spacing_mm) != 3 or len(orientation) != 6:
        raise ValueError("spacing_mm needs 3 values (z, y, x) and orientation 6 (ImageOrientationPatient)")
    air = np.asarray(hu_volume) < threshold_hu
    labels, candidates = _candidate_components(
        air, spacing_mm=spacing_mm, min_lung_ml=min_lung_ml, airway_max_area_mm2=airway_max_area_mm2
    )
    empty = np.zeros(air.shape, dtype=bool)
    if not candidates:
        return LungMasks(left=empty, right=empty.copy())
    (largest, largest_voxels), *others = candidates
    if others and others[0][1] >= joined_ratio * largest_voxels:
        parts = (labels == largest, labels == others[0][0])
    else:
        parts = _split_joined(labels == largest, axis=left_right_axis(orientation))
    closing_radius_px = int(round(closing_radius_mm / float(min(spacing_mm[1], spacing_mm[2]))))
    filled = [_close_and_fill(part, closing_radius_px=closing_radius_px) for part in parts]
    x_mm = [
        patient_x_mm(centroid_zyx(part), orientation=orientation, spacing_mm=spacing_mm) for part in parts
    ]
    left_index = int(np.argmax(x_mm))
    left = filled[left_index]
    return LungMasks(left=left, right=filled[1 - left_index] & ~left)
