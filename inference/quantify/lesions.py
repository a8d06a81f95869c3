"""Segment ground-glass opacity and consolidation inside a lung mask.

Rule: lesion candidates are lung voxels above ``ggo_min_hu`` (-750 HU). Vessels are suppressed
by an opening: only the parts within reach of an in-plane core thicker than
``vessel_max_radius_mm`` are kept (thin bright tubes, dots and pleural partial-volume rims
vanish, blobs survive whole; see ``keep_thick_parts``), then
components below ``min_lesion_ml`` are dropped. Kept voxels up to ``consolidation_min_hu``
(-300 HU) are GGO, those above are consolidation.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from inference.quantify.morphology import bounding_box, drop_small_components, keep_thick_parts

NO_LESION = 0
GGO = 1
CONSOLIDATION = 2
LESION_LABELS = {"ggo": GGO, "consolidation": CONSOLIDATION}


def segment_lesions(
    hu_volume: np.ndarray,
    *,
    lung_mask: np.ndarray,
    spacing_mm: Sequence[float],
    ggo_min_hu: float = -750.0,
    consolidation_min_hu: float = -300.0,
    vessel_max_radius_mm: float = 2.5,
    min_lesion_ml: float = 0.1,
) -> np.ndarray:
    """Label lesion voxels inside the lungs.

    Parameters
    ----------
    hu_volume : (z, y, x) Hounsfield units; not modified.
    lung_mask : boolean (z, y, x) lung mask (both lungs).
    spacing_mm : (z, y, x) voxel spacing in mm.
    ggo_min_hu : lower HU bound of GGO.
    consolidation_min_hu : HU above which a lesion voxel is consolidation.
    vessel_max_radius_mm : in-plane radius up to which a bright structure counts as a vessel, mm.
    min_lesion_ml : smallest lesion component kept, ml.

    Returns
    -------
    uint8 (z, y, x) labels: 0 none, 1 GGO (``GGO``), 2 consolidation (``CONSOLIDATION``).
    """
    if consolidation_min_hu <= ggo_min_hu:
        raise ValueError(f"consolidation_min_hu ({consolidation_min_hu}) must exceed ggo_min_hu ({ggo_min_hu})")
    hu = np.asarray(hu_volume)
    labels = np.zeros(hu.shape, dtype=np.uint8)
    box = bounding_box(lung_mask, margin_px=1)
    if box is None:
        return labels
    hu_box = hu[box]
    candidates = lung_mask[box] & (hu_box > ggo_min_hu)
    radius_px = math.ceil(vessel_max_radius_mm / float(min(spacing_mm[1], spacing_mm[2])))
    lesion = keep_thick_parts(candidates, radius_px=radius_px)
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    lesion = drop_small_components(lesion, min_voxels=max(1, math.ceil(min_lesion_ml / voxel_ml)))
    box_labels = np.where(lesion, GGO, NO_LESION).astype(np.uint8)
    box_labels[lesion & (hu_box > consolidation_min_hu)] = CONSOLIDATION
    labels[box] = box_labels
    return labels
