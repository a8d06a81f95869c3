"""Find the trachea, grow the central airway tree from it, and build the airway-wall shell around it.

Why: at the lung threshold (-320 HU) the trachea and main bronchi often join a lung and count as
lung volume (20–40 ml), and a bronchial wall (soft tissue in aerated lung) reads as a thin lesion.

Rule, in order (every threshold is a module constant with its source):

1. Trachea: in the cranial ``TRACHEA_SEARCH_SHARE`` (40 %) of the slices, per-slice air blobs
   (below ``TRACHEA_MAX_HU``, not touching the image border) of ``TRACHEA_AREA_MM2`` (50–700 mm²)
   whose centre lies within ``MIDLINE_TOLERANCE_MM`` of the body midline (left-right); blobs stacked
   along z (6-connected) running at least ``TRACHEA_MIN_LENGTH_MM`` (30 mm) form the seed, the
   longest stack winning.
2. Growth: the 6-connected air below each threshold of ``GROWTH_THRESHOLDS_HU`` (-900 … -800 HU),
   taken in turn, joined to the seed, within ``CENTRAL_HALF_WIDTH_MM`` of the trachea in-plane.
   Explosion control: a step whose volume more than doubles (``MAX_STEP_GROWTH``) or exceeds
   ``MAX_AIRWAY_ML`` (250 ml) has leaked into lung parenchyma; it is rejected and growth stops.
3. Wall: a shell around the grown lumen as thick as ``WALL_TO_DIAMETER`` (0.2) of the local lumen
   diameter, clipped to ``WALL_MM`` (1–3 mm), plus ``PARTIAL_VOLUME_MM`` (1 mm) of scanner blur.

No trachea (a field of view cropped below the carina, a phantom without airways) gives empty
masks and ``found = False``; the quantification then proceeds as without this step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import ndimage

from inference.quantify.lungs import HFS_ORIENTATION, left_right_axis
from inference.quantify.morphology import IN_PLANE_CROSS, IN_PLANE_SQUARE

TRACHEA_SEARCH_SHARE = 0.4  # the carina lies at T4–T5, within the upper ~30–40 % of a chest CT's z-range
TRACHEA_MAX_HU = -900.0  # lumen air reads ~-1000 HU; aerated lung ~-850 HU (-700…-900) mostly stays above
TRACHEA_AREA_MM2 = (50.0, 700.0)  # adult tracheal lumen ~13–25 mm wide (Breatnach et al. 1984): ~130–490 mm²
MIDLINE_TOLERANCE_MM = 25.0  # the trachea is midline; 25 mm allows deviation yet stays medial of the apices
TRACHEA_MIN_LENGTH_MM = 30.0  # the intrathoracic trachea runs 60–90 mm; 30 mm rejects short air pockets
BODY_MIN_HU = -500.0  # body vs outside air, for the midline
SAMPLE_STEP = 4  # the midline from every 4th voxel along each axis
# Adaptive thresholds (Mori et al. 1996); 25 HU steps changed the real volumes' lumen by 2 ml at most.
GROWTH_THRESHOLDS_HU = (-900.0, -850.0, -800.0)
MAX_STEP_GROWTH = 2.0  # a leak into parenchyma multiplies the volume (Mori et al. 1996 explosion control)
MAX_AIRWAY_ML = 250.0  # all conducting airways hold ~150 ml (anatomical dead space, Weibel 1963); more is a leak
CENTRAL_HALF_WIDTH_MM = 80.0  # lobar bronchi end within ~6–7 cm of the carina; bounds cost and leaks
WALL_TO_DIAMETER = 0.2  # wall thickness / lumen diameter ~0.2 in normal bronchi (Matsuoka et al. 2003, AJR)
WALL_MM = (1.0, 3.0)  # segmental ~1 mm … tracheal and main-bronchus walls ~2–3 mm
PARTIAL_VOLUME_MM = 1.0  # scanner PSF ~1 mm FWHM blurs the wall into the lumen-facing lung


@dataclass(frozen=True)
class Airways:
    """Boolean ``(z, y, x)`` masks of the grown airway lumen and of its wall shell, and how they were found."""

    lumen: np.ndarray
    wall: np.ndarray
    found: bool  # a trachea was found (False: both masks are empty)
    threshold_hu: float | None  # the last accepted growth threshold (None: no trachea)


def _slab(n_slices: int, *, superior_first: bool) -> slice:
    """Return the cranial ``TRACHEA_SEARCH_SHARE`` of the slices."""
    count = max(1, int(np.ceil(TRACHEA_SEARCH_SHARE * n_slices)))
    return slice(0, count) if superior_first else slice(n_slices - count, n_slices)


def _box_around(seed: np.ndarray, *, spacing_mm: Sequence[float], superior_first: bool) -> tuple[slice, ...]:
    """Return the growth box: ``CENTRAL_HALF_WIDTH_MM`` round the trachea in-plane and below its caudal end.

    Cranially the box reaches the end of the volume (the trachea goes on to the larynx).
    """
    box = []
    for axis in range(3):
        present = np.flatnonzero(seed.any(axis=tuple(a for a in range(3) if a != axis)))
        half_px = int(round(CENTRAL_HALF_WIDTH_MM / float(spacing_mm[axis])))
        if axis == 0:
            box.append(slice(0, int(present[-1]) + half_px + 1) if superior_first
                       else slice(max(int(present[0]) - half_px, 0), seed.shape[0]))
        else:
            centre = int(round(present.mean()))
            box.append(slice(max(centre - half_px, 0), centre + half_px + 1))
    return tuple(box)


def find_trachea(
    hu_volume: np.ndarray, *, spacing_mm: Sequence[float], orientation: Sequence[float] = HFS_ORIENTATION,
    superior_first: bool = True,
) -> np.ndarray:
    """Return the trachea seed (rule 1 of the module docstring) as a boolean ``(z, y, x)`` mask, empty if none.

    Blobs are labelled only in a band ``MIDLINE_TOLERANCE_MM`` + the widest lumen either side of the
    midline, within the body's rows (cheap); a blob cut by the band's sides is wider than a trachea.
    """
    seed = np.zeros(hu_volume.shape, dtype=bool)
    z_range = _slab(hu_volume.shape[0], superior_first=superior_first)
    lr_axis = left_right_axis(orientation)
    other_axis = 3 - lr_axis
    sample = np.asarray(hu_volume[z_range][::SAMPLE_STEP, ::SAMPLE_STEP, ::SAMPLE_STEP]) > BODY_MIN_HU
    if not sample.any():
        return seed
    lr_profile = sample.sum(axis=tuple(a for a in range(3) if a != lr_axis))
    midline_px = SAMPLE_STEP * float(np.dot(lr_profile, np.arange(lr_profile.size))) / float(lr_profile.sum())
    rows = np.flatnonzero(sample.any(axis=tuple(a for a in range(3) if a != other_axis))) * SAMPLE_STEP
    widest_mm = 2.0 * np.sqrt(TRACHEA_AREA_MM2[1] / np.pi)
    half_px = int(np.ceil((MIDLINE_TOLERANCE_MM + widest_mm) / float(spacing_mm[lr_axis])))
    box = [z_range, slice(None), slice(None)]
    box[lr_axis] = slice(max(int(round(midline_px)) - half_px, 0), int(round(midline_px)) + half_px + 1)
    box[other_axis] = slice(max(int(rows[0]) - SAMPLE_STEP, 0), int(rows[-1]) + SAMPLE_STEP + 1)
    blobs, count = ndimage.label(np.asarray(hu_volume[tuple(box)]) < TRACHEA_MAX_HU, structure=IN_PLANE_CROSS)
    if count == 0:
        return seed
    area_mm2 = np.bincount(blobs.ravel(), minlength=count + 1) * float(spacing_mm[1] * spacing_mm[2])
    # Centre of each blob's extent along the left-right axis, in volume columns (or rows).
    extents = ndimage.find_objects(blobs)
    centre_px = np.array([np.nan] + [(e[lr_axis].start + e[lr_axis].stop - 1) / 2.0 for e in extents])
    centre_px += box[lr_axis].start
    keep = ((area_mm2 >= TRACHEA_AREA_MM2[0]) & (area_mm2 <= TRACHEA_AREA_MM2[1])
            & (np.abs(centre_px - midline_px) * float(spacing_mm[lr_axis]) <= MIDLINE_TOLERANCE_MM))
    for face in (blobs[:, 0, :], blobs[:, -1, :], blobs[:, :, 0], blobs[:, :, -1]):
        keep[np.unique(face)] = False  # air around the body, or a blob wider than the band
    keep[0] = False
    if not keep.any():
        return seed
    stacks, _ = ndimage.label(keep[blobs])
    lengths_mm = np.array([(run[0].stop - run[0].start) * float(spacing_mm[0]) for run in ndimage.find_objects(stacks)])
    best = int(np.argmax(lengths_mm))
    if lengths_mm[best] < TRACHEA_MIN_LENGTH_MM:
        return seed
    seed[tuple(box)] = stacks == best + 1
    return seed


def grow_airways(
    hu_volume: np.ndarray, *, seed: np.ndarray, spacing_mm: Sequence[float], superior_first: bool = True,
) -> tuple[np.ndarray, float | None]:
    """Grow the airway lumen from a non-empty ``seed`` (rule 2); return it and the last accepted threshold.

    The threshold is None when even the first step leaked (the lumen is then the seed).
    """
    box = _box_around(seed, spacing_mm=spacing_mm, superior_first=superior_first)
    hu, lumen = np.asarray(hu_volume[box]), seed[box]
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    accepted = None
    for threshold in GROWTH_THRESHOLDS_HU:
        labels, _ = ndimage.label((hu < threshold) | lumen)
        joined = np.unique(labels[lumen])  # one label unless the seed is split: compare, cheaper than a lookup
        grown = labels == joined[0] if joined.size == 1 else np.isin(labels, joined)
        voxels = np.count_nonzero(grown)
        if voxels * voxel_ml > MAX_AIRWAY_ML or voxels > MAX_STEP_GROWTH * np.count_nonzero(lumen):
            break  # leaked into the parenchyma: keep the previous step
        lumen, accepted = grown, threshold
    result = np.zeros(seed.shape, dtype=bool)
    result[box] = lumen
    return result, accepted


def wall_thickness_mm(lumen: np.ndarray, *, spacing_mm: Sequence[float]) -> np.ndarray:
    """Return, per lumen voxel, ``WALL_TO_DIAMETER`` × the local lumen diameter clipped to ``WALL_MM`` (0 elsewhere).

    The local diameter is the minor axis of the voxel's in-plane lumen blob (4 sqrt of the smaller
    eigenvalue of its covariance: a disc's diameter, ~1.15 × the width of a bronchus cut along its
    length), so a bronchus lying in the slice does not count its length.
    """
    blobs, count = ndimage.label(lumen, structure=IN_PLANE_CROSS)
    thickness = np.zeros(lumen.shape, dtype=np.float32)
    if count == 0:
        return thickness
    _, y, x = np.nonzero(blobs)
    ids = blobs[blobs > 0]
    y_mm, x_mm = y * float(spacing_mm[1]), x * float(spacing_mm[2])
    n = np.bincount(ids, minlength=count + 1).astype(np.float64)
    n[0] = 1.0

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(ids, weights=values, minlength=count + 1) / n

    my, mx = mean(y_mm), mean(x_mm)
    syy, sxx, syx = mean(y_mm * y_mm) - my * my, mean(x_mm * x_mm) - mx * mx, mean(y_mm * x_mm) - my * mx
    minor_var = (syy + sxx) / 2.0 - np.sqrt(((syy - sxx) / 2.0) ** 2 + syx * syx)
    pixel_var = float(spacing_mm[1] * spacing_mm[2]) / 12.0  # a one-pixel blob is a pixel wide, not 0
    diameter_mm = 4.0 * np.sqrt(np.maximum(minor_var, 0.0) + pixel_var)
    per_blob = np.clip(WALL_TO_DIAMETER * diameter_mm, WALL_MM[0], WALL_MM[1]).astype(np.float32)
    thickness[blobs > 0] = per_blob[ids]
    return thickness


def airway_wall(lumen: np.ndarray, *, spacing_mm: Sequence[float]) -> np.ndarray:
    """Return the wall shell around ``lumen`` (rule 3): its local thickness (1–3 mm) plus 1 mm of blur.

    Each lumen voxel is dilated by its own reach in pixels, in one sweep: a voxel joins the front when
    as many steps remain as its reach. In-plane steps alternate a cross and a square, crosses at
    odd steps (an octagon within ~5 % of a disc); a step along z is added each time the in-plane
    reach, rounded, crosses a slice spacing.
    """
    present = [np.flatnonzero(lumen.any(axis=tuple(a for a in range(3) if a != axis))) for axis in range(3)]
    if present[0].size == 0:
        return np.zeros_like(lumen)
    pixel_mm = float(min(spacing_mm[1], spacing_mm[2]))
    max_reach = int(np.rint((WALL_MM[1] + PARTIAL_VOLUME_MM) / pixel_mm))
    z_margin = int(np.ceil(max_reach * pixel_mm / float(spacing_mm[0])))
    box = tuple(slice(max(int(p[0]) - margin, 0), int(p[-1]) + margin + 1)
                for p, margin in zip(present, (z_margin, max_reach, max_reach)))
    inside = lumen[box]
    reach = np.rint((wall_thickness_mm(inside, spacing_mm=spacing_mm) + PARTIAL_VOLUME_MM) / pixel_mm).astype(int)
    front = np.zeros_like(inside)
    for step in range(max_reach, 0, -1):
        front |= inside & (reach == step)
        structure = (IN_PLANE_CROSS if step % 2 else IN_PLANE_SQUARE).copy()
        if round(step * pixel_mm / float(spacing_mm[0])) > round((step - 1) * pixel_mm / float(spacing_mm[0])):
            structure[:, 1, 1] = True  # one slice up and down
        front = ndimage.binary_dilation(front, structure=structure)
    wall = np.zeros_like(lumen)
    wall[box] = front & ~inside
    return wall


def segment_airways(
    hu_volume: np.ndarray, *, spacing_mm: Sequence[float], orientation: Sequence[float] = HFS_ORIENTATION,
    superior_first: bool = True,
) -> Airways:
    """Find the trachea, grow the airway lumen and build its wall shell (rules in the module docstring).

    Parameters
    ----------
    hu_volume : (z, y, x) Hounsfield units; not modified.
    spacing_mm : (z, y, x) voxel spacing in mm.
    orientation : ImageOrientationPatient (0020,0037): which axis is left-right (the midline).
    superior_first : True when slice 0 is the most superior slice (where the trachea is searched).

    Returns
    -------
    Airways with boolean (z, y, x) ``lumen`` and ``wall`` (both empty when no trachea is found).
    """
    hu = np.asarray(hu_volume)
    seed = find_trachea(hu, spacing_mm=spacing_mm, orientation=orientation, superior_first=superior_first)
    if not seed.any():
        empty = np.zeros(hu.shape, dtype=bool)
        return Airways(lumen=empty, wall=empty.copy(), found=False, threshold_hu=None)
    lumen, threshold = grow_airways(hu, seed=seed, spacing_mm=spacing_mm, superior_first=superior_first)
    return Airways(lumen=lumen, wall=airway_wall(lumen, spacing_mm=spacing_mm), found=True, threshold_hu=threshold)
