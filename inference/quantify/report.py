"""Quantify lungs and lesions of a chest CT volume into one typed result.

Steps: lungs (:mod:`~inference.quantify.lungs`), the airway tree grown from the trachea
(:mod:`~inference.quantify.airways`) whose lumen leaves the lungs and whose wall shell is not
lesion, then lesions (:mod:`~inference.quantify.lesions`). Without a trachea in the field of view
the airway step changes nothing (``airway_found`` False).

Units travel with the numbers: volumes in ml, shares as fractions 0–1 everywhere (a page converts
to percent when it shows them), HU in HU. The result is what the worker stores field by field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import ndimage

from inference.quantify.airways import segment_airways
from inference.quantify.lesions import CONSOLIDATION, DEPENDENT, GGO, MIN_LESION_ML, segment_lesions
from inference.quantify.lungs import HFS_ORIENTATION, LungMasks, segment_lungs
from inference.quantify.scoring import (
    MAX_TOTAL_SCORE,
    ZONES,
    LesionHu,
    lesion_hu_statistics,
    severity_score,
    zone_index_per_slice,
)

SIDES = ("left", "right")
PERIPHERAL_DEPTH_SHARE = 1.0 / 3.0  # outer third of the lung: "peripheral" in COVID-19 CT reading
PERIPHERY_GRID_MM = 3.0  # in-plane grid of the distance map (the share is a coarse measure)


@dataclass(frozen=True)
class ZoneInvolvement:
    """Lesion share of one zone of one lung, with its peripheral (outer third) and central parts."""

    lung: str  # "left" | "right" (patient side)
    zone: str  # "upper" | "middle" | "lower"
    lesion_fraction: float
    peripheral_fraction: float  # lesion share of the zone's peripheral lung
    central_fraction: float  # lesion share of the zone's central lung
    score: int  # 0–5, see inference.quantify.scoring

    @property
    def name(self) -> str:
        """Return the zone key, e.g. ``right_lower``."""
        return f"{self.lung}_{self.zone}"


@dataclass(frozen=True)
class LesionPattern:
    """Distribution of the lesion volume (each 0–1; None without lesion): the reading pattern of COVID-19."""

    bilateral: bool  # both lungs hold lesion
    peripheral_share: float | None  # lesion volume in the outer third of the lungs
    lower_zone_share: float | None  # lesion volume in the lower zones
    ggo_share: float | None  # GGO volume over lesion volume


@dataclass(frozen=True)
class Quantification:
    """Lung and lesion quantification of one CT volume (``lungs``/``lesion_labels`` are not serialised)."""

    lung_left_ml: float
    lung_right_ml: float
    lesion_ggo_ml: float
    lesion_consolidation_ml: float
    lesion_total_ml: float
    lesion_ml_by_lung: dict[str, dict[str, float]]
    lesion_fraction_left: float
    lesion_fraction_right: float
    lesion_fraction_both: float
    lesion_hu: LesionHu
    ggo_hu: LesionHu
    consolidation_hu: LesionHu
    dependent_density_ml: float  # dependent subpleural density, not counted as lesion
    zones: tuple[ZoneInvolvement, ...]
    severity_total: int
    severity_max: int
    pattern: LesionPattern
    lungs: LungMasks  # without the airway lumen
    lesion_labels: np.ndarray
    airway_found: bool = False  # a trachea was found (False: lungs and lesions measured without the airway step)
    airway_lumen_ml: float = 0.0  # grown airway lumen taken out of the lungs (trachea, main bronchi), ml

    @property
    def lung_total_ml(self) -> float:
        """Return the volume of both lungs, ml."""
        return self.lung_left_ml + self.lung_right_ml

    def to_dict(self) -> dict[str, Any]:
        """Return every number as a JSON-ready dict (fractions 0–1, volumes ml, HU), without the masks."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("lungs", "lesion_labels")}
        data["zones"] = [dataclasses.asdict(zone) for zone in self.zones]
        for name in ("lesion_hu", "ggo_hu", "consolidation_hu", "pattern"):
            data[name] = dataclasses.asdict(data[name])
        return data


def peripheral_mask(lung: np.ndarray, *, spacing_mm: Sequence[float]) -> np.ndarray:
    """Return the outer third of a lung, slice by slice: in-plane depth below a third of that slice's deepest point.

    Depth is the in-plane distance to the nearest non-lung pixel (costal, mediastinal or
    diaphragmatic pleura), computed on a ~``PERIPHERY_GRID_MM`` grid.
    """
    result = np.zeros_like(lung)
    box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in np.nonzero(lung)) if lung.any() else None
    if box is None:
        return result
    step = max(1, int(round(PERIPHERY_GRID_MM / float(min(spacing_mm[1], spacing_mm[2])))))
    coarse = lung[box][:, ::step, ::step]
    padded = np.pad(coarse, ((0, 0), (1, 1), (1, 1)))
    depth = ndimage.distance_transform_edt(padded, sampling=(1e6, 1.0, 1.0))[:, 1:-1, 1:-1]
    deepest = depth.max(axis=(1, 2), keepdims=True)
    outer = coarse & (depth <= np.maximum(deepest * PERIPHERAL_DEPTH_SHARE, 1.0))
    full = np.repeat(np.repeat(outer, step, axis=1), step, axis=2)
    region = result[box]
    region[...] = full[:, : region.shape[1], : region.shape[2]] & lung[box]
    return result


def _share(part: float, whole: float) -> float:
    """Return part / whole, 0 for an empty whole."""
    return float(part / whole) if whole else 0.0


def _voxels_per_slice(mask: np.ndarray) -> np.ndarray:
    """Return the number of set voxels in each slice of ``mask``."""
    return np.count_nonzero(mask.reshape(len(mask), -1), axis=1)


def _zones(
    lungs: LungMasks, *, lesion: np.ndarray, peripheral: np.ndarray, superior_first: bool
) -> tuple[ZoneInvolvement, ...]:
    """Measure each zone of each lung: whole, peripheral and central lesion fractions, and its score.

    A zone is a run of whole slices, so per-slice counts summed over its slices give its voxel
    counts (four passes over the volume per lung instead of a dozen per zone).
    """
    zones = []
    for side in SIDES:
        lung = getattr(lungs, side)
        index = zone_index_per_slice(lung, superior_first=superior_first)
        diseased = lung & lesion
        counts = {"lung": _voxels_per_slice(lung), "outer": _voxels_per_slice(lung & peripheral),
                  "lesion": _voxels_per_slice(diseased), "lesion_outer": _voxels_per_slice(diseased & peripheral)}
        for number, name in enumerate(ZONES):
            n = {key: int(per_slice[index == number].sum()) for key, per_slice in counts.items()}
            fraction = _share(n["lesion"], n["lung"])
            zones.append(ZoneInvolvement(
                lung=side, zone=name, lesion_fraction=fraction,
                peripheral_fraction=_share(n["lesion_outer"], n["outer"]),
                central_fraction=_share(n["lesion"] - n["lesion_outer"], n["lung"] - n["outer"]),
                score=severity_score(fraction),
            ))
    return tuple(zones)


def _pattern(lungs: LungMasks, *, labels: np.ndarray, peripheral: np.ndarray, lower: np.ndarray) -> LesionPattern:
    """Summarise where the lesion volume lies (see :class:`LesionPattern`)."""
    lesion = (labels == GGO) | (labels == CONSOLIDATION)
    total = np.count_nonzero(lesion)
    if total == 0:
        return LesionPattern(bilateral=False, peripheral_share=None, lower_zone_share=None, ggo_share=None)
    return LesionPattern(
        bilateral=bool((lesion & lungs.left).any() and (lesion & lungs.right).any()),
        peripheral_share=_share(np.count_nonzero(lesion & peripheral), total),
        lower_zone_share=_share(np.count_nonzero(lesion & lower), total),
        ggo_share=_share(np.count_nonzero(labels == GGO), total),
    )


def quantify_volume(
    hu_volume: np.ndarray,
    *,
    spacing_mm: Sequence[float],
    orientation: Sequence[float] = HFS_ORIENTATION,
    superior_first: bool = True,
    min_lesion_ml: float = MIN_LESION_ML,
    lesion_options: Mapping[str, float] | None = None,
) -> Quantification:
    """Segment lungs and lesions and measure volumes, involvement, HU statistics, pattern and severity.

    Parameters
    ----------
    hu_volume : (z, y, x) Hounsfield units (float32 preferred); not modified.
    spacing_mm : (z, y, x) voxel spacing in mm.
    orientation : ImageOrientationPatient (0020,0037); decides which lung is the patient's left.
    superior_first : True when slice 0 is the most superior slice (decides upper/lower zones).
    min_lesion_ml : smallest lesion component kept, ml.
    lesion_options : further keyword arguments of :func:`inference.quantify.lesions.segment_lesions`.

    Returns
    -------
    Quantification; ``to_dict()`` gives the JSON form.
    """
    hu = np.asarray(hu_volume)
    with_airways = segment_lungs(hu, spacing_mm=spacing_mm, orientation=orientation)
    airways = segment_airways(hu, spacing_mm=spacing_mm, orientation=orientation, superior_first=superior_first)
    lungs = LungMasks(left=with_airways.left & ~airways.lumen, right=with_airways.right & ~airways.lumen)
    both = lungs.both
    rows_to_posterior = float(orientation[4])  # patient-y cosine of the column direction (LPS: + posterior)
    dependent_rows_increase = None if abs(rows_to_posterior) < 0.5 else rows_to_posterior > 0  # supine assumed
    labels = segment_lesions(hu, lung_mask=both, spacing_mm=spacing_mm, min_lesion_ml=min_lesion_ml,
                             dependent_rows_increase=dependent_rows_increase,
                             not_lesion=airways.wall if airways.found else None, **dict(lesion_options or {}))
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    lung_ml = {side: np.count_nonzero(getattr(lungs, side)) * voxel_ml for side in SIDES}
    by_lung = {}
    for side in SIDES:
        in_lung = labels[getattr(lungs, side)]
        ggo_ml = float(np.count_nonzero(in_lung == GGO) * voxel_ml)
        consolidation_ml = float(np.count_nonzero(in_lung == CONSOLIDATION) * voxel_ml)
        by_lung[side] = {"ggo": ggo_ml, "consolidation": consolidation_ml, "total": ggo_ml + consolidation_ml}
    lesion = (labels == GGO) | (labels == CONSOLIDATION)
    peripheral = peripheral_mask(lungs.left, spacing_mm=spacing_mm) | peripheral_mask(lungs.right,
                                                                                      spacing_mm=spacing_mm)
    zones = _zones(lungs, lesion=lesion, peripheral=peripheral, superior_first=superior_first)
    lower = np.zeros_like(both)
    for side in SIDES:
        lung = getattr(lungs, side)
        lower |= lung & (zone_index_per_slice(lung, superior_first=superior_first) == 2)[:, None, None]
    total_ml = by_lung["left"]["total"] + by_lung["right"]["total"]
    return Quantification(
        lung_left_ml=float(lung_ml["left"]),
        lung_right_ml=float(lung_ml["right"]),
        lesion_ggo_ml=by_lung["left"]["ggo"] + by_lung["right"]["ggo"],
        lesion_consolidation_ml=by_lung["left"]["consolidation"] + by_lung["right"]["consolidation"],
        lesion_total_ml=total_ml,
        lesion_ml_by_lung=by_lung,
        lesion_fraction_left=_share(by_lung["left"]["total"], lung_ml["left"]),
        lesion_fraction_right=_share(by_lung["right"]["total"], lung_ml["right"]),
        lesion_fraction_both=_share(total_ml, lung_ml["left"] + lung_ml["right"]),
        lesion_hu=lesion_hu_statistics(hu[lesion & both]),
        ggo_hu=lesion_hu_statistics(hu[labels == GGO]),
        consolidation_hu=lesion_hu_statistics(hu[labels == CONSOLIDATION]),
        dependent_density_ml=float(np.count_nonzero(labels == DEPENDENT) * voxel_ml),
        zones=zones,
        severity_total=sum(zone.score for zone in zones),
        severity_max=MAX_TOTAL_SCORE,
        pattern=_pattern(lungs, labels=labels, peripheral=peripheral, lower=lower),
        lungs=lungs,
        lesion_labels=labels,
        airway_found=airways.found,
        airway_lumen_ml=float(np.count_nonzero(airways.lumen & with_airways.both) * voxel_ml),
    )
