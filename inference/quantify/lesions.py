"""Segment ground-glass opacity and consolidation inside a lung mask, without vessels or airway walls.

Rule, in order (every threshold is a keyword parameter; sources beside each default):

1. Candidates: lung voxels above ``ggo_min_hu`` (-750 HU). Ground glass is "hazy increased
   attenuation with preserved bronchial and vascular margins" (Fleischner glossary, Hansell et al.
   2008); -750…-300 HU is its usual quantitative band (Ohkubo 2016, Chen 2020 COVID CT), above
   -300 HU consolidation.
2. Tubes are not lesions: voxels whose multiscale Hessian vesselness (Frangi, see
   :mod:`inference.quantify.vessels`) exceeds ``vesselness_min`` are vessels or bronchial walls
   seen lengthwise and leave the candidates, whatever their direction (through-plane, in-plane,
   oblique, branching). Lesion patches are blobs or plates and keep a low vesselness.
   Voxels the caller marks ``not_lesion`` (the airway-wall shell round the bronchial tree grown
   from the trachea, :mod:`inference.quantify.airways`) leave the candidates here too.
3. Dense (consolidation-range) structures need an in-plane core of ``dense_min_radius_mm`` (4 mm,
   i.e. 8 mm wide): soft-tissue density narrower than that is a vessel or a bronchial wall the
   Hessian missed (branch points, hilar junctions), whereas consolidation fills whole acini and
   secondary lobules (6–25 mm; Fleischner glossary).
   A thin dense structure that mostly runs away from aerated lung (the thickened septa of crazy
   paving: "thickened interlobular septa superimposed on ground glass", Fleischner glossary) stays
   lesion whole (:func:`thin_dense_in_aerated_lung`).
   Thin leftovers are not lesions: only the parts within reach of an in-plane core thicker than
   ``thin_radius_mm`` (2 mm: the partial-volume rim of a vessel or of the pleura and fissures,
   a scanner PSF of ~1 mm FWHM plus a 1–2 mm wall) survive, grown back whole in 3-D
   (:func:`inference.quantify.morphology.keep_thick_parts`). The core also avoids a band of
   ``pleural_band_mm`` (3 mm) under the lung border, where the pleura, the beating heart's edge and
   dependent subpleural density blur into the lung, also where that border lies in the next slice
   above or below (``z_band_slices``: a cylinder, :func:`border_band`), where the diaphragm or apex
   cut obliquely raise a whole area by partial volume; a lesion seeded deeper grows back across the
   band to the pleura.
4. Components smaller than ``min_lesion_ml`` (0.25 ml ~ an 8 mm sphere: opacities under 1 cm are
   nodules, not the patchy pneumonia this measures, and the residue of vessel ends is this small) are
   dropped.
5. Kept voxels up to ``consolidation_min_hu`` (-300 HU) are GGO, those above consolidation; GGO-range
   voxels squeezed between consolidation and aerated lung within ``PSF_EDGE_MM`` are the blurred
   wall of the consolidation and are dropped (:func:`blurred_wall`).
6. Faint components in the dependent subpleural band of an otherwise normal lung are labelled
   dependent density, apart from the lesions (:func:`dependent_density`).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import ndimage

from inference.quantify.morphology import (FULL_3D, IN_PLANE_CROSS, IN_PLANE_SQUARE, bounding_box, drop_small_components,
                                          keep_thick_parts)
from inference.quantify.vessels import GRID_MM, block_mean, vesselness

NO_LESION = 0
GGO = 1
CONSOLIDATION = 2
DEPENDENT = 3  # dependent subpleural density: measured, reported apart, not a lesion
LESION_LABELS = {"ggo": GGO, "consolidation": CONSOLIDATION}
MIN_LESION_ML = 0.25
DEPENDENT_BAND_MM = 10.0
DEPENDENT_SHARE = 0.8
DEPENDENT_MAX_HU = -500.0
OTHERWISE_NORMAL_FRACTION = 0.01
PSF_EDGE_MM = 1.0  # half-width of a blurred wall: scanner PSF ~1 mm FWHM (B30f/B40f-type kernels)
VESSEL_SURROUND_MM = 5.0  # neighbourhood in which a vessel must meet aerated lung (~2x a lobar vessel radius)
VESSEL_RIM_MM = 3.0  # the rim of a 6–10 mm vessel outside its ridge core
EMBEDDED_SHARE = 0.5  # majority rule: a thin dense structure mostly away from aerated lung runs inside a lesion


def vessel_mask(
    hu_box: np.ndarray, *, candidates: np.ndarray, spacing_mm: Sequence[float], vesselness_min: float,
    aerated_max_hu: float = -750.0,
) -> np.ndarray:
    """Return the candidate voxels on bright tubes that pass through aerated lung (Hessian on a ~``GRID_MM`` grid).

    A tube counts when aerated lung (below ``aerated_max_hu``, the GGO lower bound) lies within
    ``VESSEL_SURROUND_MM`` / 2 of it: a vessel inside a lesion stays part of the lesion, as in manual
    lesion outlines, and so do the thickened septa of crazy paving.
    """
    factor = max(1, int(round(GRID_MM / float(min(spacing_mm[1], spacing_mm[2])))))
    coarse_hu = block_mean(hu_box, factor=factor)
    coarse_where = block_mean(candidates, factor=factor) > 0.0
    coarse_spacing = (float(spacing_mm[0]), float(spacing_mm[1]) * factor, float(spacing_mm[2]) * factor)
    tubes = vesselness(coarse_hu, where=coarse_where, spacing_mm=coarse_spacing) > vesselness_min
    # A vessel runs through aerated lung; a ridge inside ground glass (a septum of crazy paving) is lesion.
    reach = [max(1, 2 * int(round(VESSEL_SURROUND_MM / 2.0 / step)) + 1) for step in coarse_spacing]
    tubes &= ndimage.minimum_filter(coarse_hu, size=reach) < aerated_max_hu
    # The measure holds near a tube's axis only: widen by VESSEL_RIM_MM to take its partial-volume rim.
    rim_cells = max(1, int(round(VESSEL_RIM_MM / coarse_spacing[1])))
    tubes = ndimage.binary_dilation(tubes, structure=IN_PLANE_CROSS[1:2], iterations=rim_cells) & coarse_where
    full = np.repeat(np.repeat(tubes, factor, axis=1), factor, axis=2)[:, : hu_box.shape[1], : hu_box.shape[2]]
    return np.asarray(full & candidates)


def thin_dense_in_aerated_lung(thin_dense: np.ndarray, *, aerated: np.ndarray, reach_px: int) -> np.ndarray:
    """Return the thin dense voxels within ``reach_px`` (3-D, geodesic) of aerated lung, except embedded structures.

    A thin dense line that meets aerated lung is a vessel or a bronchial wall. A thin dense structure
    (26-connected) of which under ``EMBEDDED_SHARE`` lies within ``reach_px`` in-plane of aerated lung
    runs inside ground glass (the thickened septa of crazy paving) and stays lesion whole, also where
    it ends at the patch's edge or in its top and bottom slices (aerated lung above or below).
    """
    near = ndimage.binary_dilation(aerated, structure=FULL_3D, iterations=reach_px, mask=thin_dense) & thin_dense
    if not near.any():
        return np.asarray(near)
    # Beside: within twice the reach in-plane, past the ground-glass-range halo that blur puts round a vessel.
    beside = ndimage.binary_dilation(aerated, structure=IN_PLANE_SQUARE, iterations=2 * reach_px) & thin_dense
    components, count = ndimage.label(thin_dense, structure=FULL_3D)
    sizes = np.bincount(components.ravel(), minlength=count + 1)
    beside_count = np.bincount(components.ravel(), weights=beside.ravel(), minlength=count + 1)
    embedded = beside_count < EMBEDDED_SHARE * np.maximum(sizes, 1)
    embedded[0] = False
    return np.asarray(near & ~embedded[components])


def blurred_wall(ggo: np.ndarray, *, dense: np.ndarray, aerated: np.ndarray, radius_px: int) -> np.ndarray:
    """Return the GGO-range voxels within ``radius_px`` (in-plane) of both thick consolidation and aerated lung.

    The scanner blur turns a consolidation's sharp wall into a one-to-two-voxel ramp through the GGO
    band; those voxels are the wall's partial volume, not a ground-glass rim (a real halo is thicker
    and keeps its inner layers). Thin dense lines (the septa of crazy paving) do not count as walls.
    """
    if not dense.any():
        return np.zeros_like(ggo)
    near = IN_PLANE_CROSS[1:2]
    return np.asarray(ggo & ndimage.binary_dilation(dense, structure=near, iterations=radius_px)
                      & ndimage.binary_dilation(aerated, structure=near, iterations=radius_px))


def border_band(lung: np.ndarray, *, band_px: int, slices: int) -> np.ndarray:
    """Return lung voxels within ``band_px`` (in-plane) of a non-lung voxel on their own slice or the ``slices`` next.

    A cylinder, not an in-plane band plus a z band: where the diaphragm dome or the apex meets the
    slices obliquely, a voxel whose own slice is deep lung may lie a few millimetres from the dome
    in the slice next to it, and partial volume raises it as much as at the costal pleura.
    """
    inner = (ndimage.binary_erosion(lung, structure=IN_PLANE_CROSS, iterations=band_px)
             if band_px > 0 else lung.copy())  # iterations=0 would erode to nothing
    if slices > 0:
        structure = np.zeros((3, 1, 1), dtype=bool)
        structure[:, 0, 0] = True
        inner = ndimage.binary_erosion(inner, structure=structure, iterations=slices, border_value=1)
    return np.asarray(lung & ~inner)


def segment_lesions(
    hu_volume: np.ndarray,
    *,
    lung_mask: np.ndarray,
    spacing_mm: Sequence[float],
    ggo_min_hu: float = -750.0,
    consolidation_min_hu: float = -300.0,
    vesselness_min: float = 0.3,
    thin_radius_mm: float = 2.0,
    dense_min_radius_mm: float = 4.0,
    pleural_band_mm: float = 3.0,
    z_band_slices: int = 1,
    min_lesion_ml: float = MIN_LESION_ML,
    dependent_rows_increase: bool | None = True,
    dependent_max_other_lesion: float = OTHERWISE_NORMAL_FRACTION,
    not_lesion: np.ndarray | None = None,
) -> np.ndarray:
    """Label lesion voxels inside the lungs (rules in the module docstring).

    Parameters
    ----------
    hu_volume : (z, y, x) Hounsfield units; not modified.
    lung_mask : boolean (z, y, x) lung mask (both lungs).
    spacing_mm : (z, y, x) voxel spacing in mm.
    ggo_min_hu : lower HU bound of GGO.
    consolidation_min_hu : HU above which a lesion voxel is consolidation.
    vesselness_min : Frangi vesselness (0–1) above which a candidate voxel is a vessel.
    thin_radius_mm : in-plane radius a lesion core must exceed, mm.
    dense_min_radius_mm : in-plane radius a consolidation core must exceed, mm.
    pleural_band_mm : in-plane depth below the lung border (pleura, fissure gaps, heart border) that
        cannot seed a lesion core, mm.
    z_band_slices : slices next to a lung border (along z) that cannot seed a lesion core.
    min_lesion_ml : smallest lesion component kept, ml.
    dependent_rows_increase : True when the row index grows towards the table (supine, rows to patient
        posterior), False for the reverse; None skips the dependent-density rule (orientation unknown).
    dependent_max_other_lesion : the dependent-density rule applies while the lesion outside dependent
        components stays below this fraction of the lung (1.0: whatever the rest of the lung shows).
    not_lesion : boolean (z, y, x) voxels known not to be lesion (the airway-wall shell of
        :mod:`inference.quantify.airways`): they leave the candidates before any rule, so they neither
        count nor seed or link a lesion; None: none.

    Returns
    -------
    uint8 (z, y, x) labels: 0 none, 1 GGO (``GGO``), 2 consolidation (``CONSOLIDATION``), 3 dependent
    density (``DEPENDENT``, not a lesion; see :func:`dependent_density`).
    """
    if consolidation_min_hu <= ggo_min_hu:
        raise ValueError(f"consolidation_min_hu ({consolidation_min_hu}) must exceed ggo_min_hu ({ggo_min_hu})")
    hu = np.asarray(hu_volume)
    labels = np.zeros(hu.shape, dtype=np.uint8)
    box = bounding_box(lung_mask, margin_px=1)
    if box is None:
        return labels
    hu_box, lung_box = hu[box], lung_mask[box]
    candidates_all = lung_box & (hu_box > ggo_min_hu)
    candidates = candidates_all & ~vessel_mask(hu_box, candidates=candidates_all, spacing_mm=spacing_mm, vesselness_min=vesselness_min)
    if not_lesion is not None:  # dense, so not aerated lung either: only the candidates lose it
        candidates &= ~np.asarray(not_lesion)[box]
    pixel_mm = float(min(spacing_mm[1], spacing_mm[2]))
    dense = candidates & (hu_box > consolidation_min_hu)
    thin_dense = dense & ~keep_thick_parts(dense, radius_px=math.ceil(dense_min_radius_mm / pixel_mm))
    candidates &= ~thin_dense_in_aerated_lung(thin_dense, aerated=lung_box & ~candidates_all,
                                              reach_px=max(1, round(VESSEL_SURROUND_MM / 2.0 / pixel_mm)))
    radius_px = math.ceil(thin_radius_mm / pixel_mm)
    band_px = math.ceil(pleural_band_mm / pixel_mm)
    pleural_band = border_band(lung_box, band_px=band_px, slices=z_band_slices)
    lesion = keep_thick_parts(candidates, radius_px=radius_px, seed_excluded=pleural_band)
    if band_px > 0:  # a lesion seeded deeper reaches across the band to the pleura
        lesion = ndimage.binary_dilation(lesion, structure=FULL_3D, iterations=band_px, mask=candidates & pleural_band)
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    lesion = drop_small_components(lesion, min_voxels=max(1, math.ceil(min_lesion_ml / voxel_ml)))
    dense = lesion & (hu_box > consolidation_min_hu)
    lesion &= ~blurred_wall(lesion & ~dense, dense=keep_thick_parts(dense, radius_px=radius_px),
                            aerated=lung_box & ~candidates_all,
                            radius_px=math.ceil(PSF_EDGE_MM / float(min(spacing_mm[1], spacing_mm[2]))))
    box_labels = np.where(lesion, GGO, NO_LESION).astype(np.uint8)
    box_labels[dense] = CONSOLIDATION
    if dependent_rows_increase is not None:
        dependent = dependent_density(box_labels, hu_box=hu_box, lung_box=lung_box, spacing_mm=spacing_mm,
                                      rows_increase=dependent_rows_increase, max_other_lesion=dependent_max_other_lesion)
        box_labels[dependent] = DEPENDENT
    labels[box] = box_labels
    return labels


def dependent_density(
    labels: np.ndarray, *, hu_box: np.ndarray, lung_box: np.ndarray, spacing_mm: Sequence[float], rows_increase: bool,
    max_other_lesion: float = OTHERWISE_NORMAL_FRACTION,
) -> np.ndarray:
    """Return the faint lesion components lying in the dependent subpleural band of an otherwise normal lung.

    Supine patients show a gravity-dependent band of higher density along the posterior pleura
    (Morimoto 1989; Fleischner glossary: "dependent opacity", gone when prone). A component counts
    when ``DEPENDENT_SHARE`` of it lies within ``DEPENDENT_BAND_MM`` of the lung border below it (row
    direction ``rows_increase`` towards the table), its mean is under ``DEPENDENT_MAX_HU``, and the
    lesion outside such components stays under ``max_other_lesion`` of the lung (default
    ``OTHERWISE_NORMAL_FRACTION``): with disease elsewhere a posterior opacity is read as disease
    (COVID-19 favours exactly that site).
    """
    lesion = (labels == GGO) | (labels == CONSOLIDATION)
    if not lesion.any():
        return np.zeros_like(lesion)
    rows = lung_box if rows_increase else lung_box[:, ::-1]
    depth = np.zeros(rows.shape, dtype=np.int32)  # lung voxels between a voxel and the border below it
    for row in range(rows.shape[1] - 2, -1, -1):
        depth[:, row] = (depth[:, row + 1] + 1) * rows[:, row + 1]
    depth = depth if rows_increase else depth[:, ::-1]
    band = lung_box & (depth * float(spacing_mm[1]) <= DEPENDENT_BAND_MM)
    components, count = ndimage.label(lesion, structure=FULL_3D)
    sizes = np.bincount(components.ravel(), minlength=count + 1)
    in_band = np.bincount(components.ravel(), weights=band.ravel(), minlength=count + 1)
    hu_sum = np.bincount(components.ravel(), weights=hu_box.ravel(), minlength=count + 1)
    faint_band = (in_band >= DEPENDENT_SHARE * sizes) & (hu_sum < DEPENDENT_MAX_HU * sizes)
    faint_band[0] = False
    dependent = faint_band[components]
    if np.count_nonzero(lesion & ~dependent) >= max_other_lesion * np.count_nonzero(lung_box):
        return np.zeros_like(lesion)
    return np.asarray(dependent)
