"""Per-slice lesion features from the physics-based quantification: the input of the lesion-feature model.

Why features and not pixels: a CNN trained on four real volumes plus synthetic lesions learned
the scanner, not the disease (held-out slice AUC 0.39). Fractions of lung voxels in HU bands and
of the vessel-cleaned lesion mask of :mod:`inference.quantify` are physical quantities (HU is
calibrated on every scanner: air -1000, water 0), so they carry over between scanners far better.

Features of one axial slice ``z`` (``FEATURE_NAMES``; fractions 0–1 of that slice's lung pixels):

- ``lesion``, ``ggo``, ``consolidation``: the quantification's lesion labels (vessels removed);
- ``dependent``: dependent subpleural density (not a lesion, but its look-alike);
- ``lesion_min_side``, ``lesion_max_side``: lesion fraction of the less and the more involved
  lung (bilateral involvement is the COVID-19 pattern, one lung the lobar-pneumonia one);
- ``peripheral_share``: lesion pixels in the outer third of the lung over lesion pixels;
- ``band_ggo``, ``band_dense``: raw lung pixels in -750…-300 HU and above -300 HU (vessels
  included: the unfiltered signal beside the cleaned one);
- ``hu_p50``, ``hu_p90``, ``hu_p98``: lung HU percentiles / 1000;
- ``lung_area``: lung pixels over the volume's largest lung slice (partial-volume slices at the
  apex and the diaphragm are denser without disease).

Lesion fractions enter as ``log1p(100 x fraction)`` so that a 1 % and a 10 % slice differ as much
as a 10 % and a 100 % one (the disease spans orders of magnitude).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from inference.quantify import CONSOLIDATION, GGO, Quantification
from inference.quantify.lesions import DEPENDENT
from inference.quantify.report import peripheral_mask

FEATURE_NAMES = ("lesion", "ggo", "consolidation", "dependent", "lesion_min_side", "lesion_max_side", "peripheral_share",
                 "band_ggo", "band_dense", "hu_p50", "hu_p90", "hu_p98", "lung_area")
LOG_SCALED = {"lesion", "ggo", "consolidation", "dependent", "lesion_min_side", "lesion_max_side", "band_ggo", "band_dense"}
GGO_MIN_HU, DENSE_MIN_HU = -750.0, -300.0
EMPTY_LUNG_HU = -1000.0  # percentiles of a slice without lung: air


def _fraction(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    return np.where(whole > 0, part / np.maximum(whole, 1), 0.0)


def slice_features(hu_volume: np.ndarray, *, quantification: Quantification, spacing_mm: Sequence[float],
                   indices: np.ndarray) -> np.ndarray:
    """Return the ``FEATURE_NAMES`` features ``(len(indices), len(FEATURE_NAMES))`` (float32) of the slices ``indices``."""
    indices = np.asarray(indices, dtype=np.int64)
    lungs, labels = quantification.lungs, quantification.lesion_labels[indices]
    both, left, right = lungs.both[indices], lungs.left[indices], lungs.right[indices]
    hu = np.asarray(hu_volume)[indices]
    lesion = np.isin(labels, (GGO, CONSOLIDATION))
    lung_px = both.sum(axis=(1, 2)).astype(np.float64)
    peripheral = peripheral_mask(lungs.left, spacing_mm=spacing_mm) | peripheral_mask(lungs.right, spacing_mm=spacing_mm)
    left_fraction = _fraction((lesion & left).sum(axis=(1, 2)), left.sum(axis=(1, 2)))
    right_fraction = _fraction((lesion & right).sum(axis=(1, 2)), right.sum(axis=(1, 2)))
    lesion_px = lesion.sum(axis=(1, 2))
    columns = {
        "lesion": _fraction(lesion_px, lung_px),
        "ggo": _fraction((labels == GGO).sum(axis=(1, 2)), lung_px),
        "consolidation": _fraction((labels == CONSOLIDATION).sum(axis=(1, 2)), lung_px),
        "dependent": _fraction((labels == DEPENDENT).sum(axis=(1, 2)), lung_px),
        "lesion_min_side": np.minimum(left_fraction, right_fraction),
        "lesion_max_side": np.maximum(left_fraction, right_fraction),
        "peripheral_share": _fraction((lesion & peripheral[indices]).sum(axis=(1, 2)), lesion_px),
        "band_ggo": _fraction((both & (hu > GGO_MIN_HU) & (hu <= DENSE_MIN_HU)).sum(axis=(1, 2)), lung_px),
        "band_dense": _fraction((both & (hu > DENSE_MIN_HU)).sum(axis=(1, 2)), lung_px),
        "lung_area": lung_px / max(float(lungs.both.sum(axis=(1, 2)).max()), 1.0),
    }
    percentiles = np.array([np.percentile(s[m], (50, 90, 98)) if m.any() else np.full(3, EMPTY_LUNG_HU)
                            for s, m in zip(hu, both)]).reshape(-1, 3) / 1000.0
    columns.update(hu_p50=percentiles[:, 0], hu_p90=percentiles[:, 1], hu_p98=percentiles[:, 2])
    table = [np.log1p(100.0 * columns[name]) if name in LOG_SCALED else columns[name] for name in FEATURE_NAMES]
    return np.stack(table, axis=1).astype(np.float32)
