"""Quantify lungs and lesions of a chest CT volume into a JSON-ready report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from inference.quantify.lesions import CONSOLIDATION, GGO, segment_lesions
from inference.quantify.lungs import HFS_ORIENTATION, LungMasks, segment_lungs
from inference.quantify.scoring import (
    MAX_TOTAL_SCORE,
    lesion_hu_statistics,
    severity_score,
    zone_involvement,
)

SIDES = ("left", "right")


@dataclass(frozen=True)
class Quantification:
    """Lung and lesion quantification of one CT volume.

    Volumes are in ml, fractions 0–1 (``to_dict`` converts lesion fractions to percent).
    ``lungs`` and ``lesion_labels`` are the masks the numbers come from (not serialised).
    """

    lung_ml: dict[str, float]
    lesion_ml: dict[str, float]
    lesion_ml_by_lung: dict[str, dict[str, float]]
    lesion_fraction: dict[str, float]
    lesion_hu: dict[str, Any]
    zone_fraction: dict[str, float]
    lungs: LungMasks
    lesion_labels: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """Return the report dict; ``percent`` holds lesion percentages of lung volume, 0–100."""
        zones = {
            name: {"involvement_fraction": fraction, "score": severity_score(fraction)}
            for name, fraction in self.zone_fraction.items()
        }
        return {
            "lung_ml": self.lung_ml,
            "lesion_ml": self.lesion_ml,
            "lesion_ml_by_lung": self.lesion_ml_by_lung,
            "percent": {side: 100.0 * fraction for side, fraction in self.lesion_fraction.items()},
            "lesion_hu": self.lesion_hu,
            "severity": {
                "total": sum(zone["score"] for zone in zones.values()),
                "max_total": MAX_TOTAL_SCORE,
                "zones": zones,
            },
        }


def _volumes_ml(lungs: LungMasks, labels: np.ndarray, *, voxel_ml: float) -> dict[str, dict[str, float]]:
    """Return lung and per-type lesion volumes (ml) for each lung."""
    volumes = {}
    for side in SIDES:
        lung = getattr(lungs, side)
        in_lung = labels[lung]
        ggo_ml = float(np.count_nonzero(in_lung == GGO) * voxel_ml)
        consolidation_ml = float(np.count_nonzero(in_lung == CONSOLIDATION) * voxel_ml)
        volumes[side] = {
            "lung": float(np.count_nonzero(lung) * voxel_ml),
            "ggo": ggo_ml,
            "consolidation": consolidation_ml,
            "total": ggo_ml + consolidation_ml,
        }
    return volumes


def quantify_volume(
    hu_volume: np.ndarray,
    *,
    spacing_mm: Sequence[float],
    orientation: Sequence[float] = HFS_ORIENTATION,
    superior_first: bool = True,
    min_lesion_ml: float = 0.1,
) -> Quantification:
    """Segment lungs and lesions and measure volumes, involvement, HU statistics and severity.

    Parameters
    ----------
    hu_volume : (z, y, x) Hounsfield units (float32 preferred); not modified.
    spacing_mm : (z, y, x) voxel spacing in mm.
    orientation : ImageOrientationPatient (0020,0037); decides which lung is the patient's left.
    superior_first : True when slice 0 is the most superior slice (decides upper/lower zones).
    min_lesion_ml : smallest lesion component kept, ml.

    Returns
    -------
    Quantification; call ``to_dict()`` for the JSON report.
    """
    lungs = segment_lungs(hu_volume, spacing_mm=spacing_mm, orientation=orientation)
    both = lungs.both
    labels = segment_lesions(hu_volume, lung_mask=both, spacing_mm=spacing_mm, min_lesion_ml=min_lesion_ml)
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    per_lung = _volumes_ml(lungs, labels, voxel_ml=voxel_ml)
    lung_ml = {side: per_lung[side]["lung"] for side in SIDES}
    lung_ml["total"] = lung_ml["left"] + lung_ml["right"]
    by_lung = {side: {k: v for k, v in per_lung[side].items() if k != "lung"} for side in SIDES}
    lesion_ml = {kind: by_lung["left"][kind] + by_lung["right"][kind] for kind in ("ggo", "consolidation", "total")}
    fraction = {side: by_lung[side]["total"] / lung_ml[side] if lung_ml[side] else 0.0 for side in SIDES}
    fraction["both"] = lesion_ml["total"] / lung_ml["total"] if lung_ml["total"] else 0.0
    lesion = labels > 0
    zone_fraction = {
        f"{side}_{zone}": value
        for side in SIDES
        for zone, value in zone_involvement(getattr(lungs, side), lesion=lesion, superior_first=superior_first).items()
    }
    hu = np.asarray(hu_volume)
    return Quantification(
        lung_ml=lung_ml,
        lesion_ml=lesion_ml,
        lesion_ml_by_lung=by_lung,
        lesion_fraction=fraction,
        lesion_hu=lesion_hu_statistics(hu[lesion & both]),
        zone_fraction=zone_fraction,
        lungs=lungs,
        lesion_labels=labels,
    )
