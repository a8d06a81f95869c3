"""Decide whether a CT study lies in the model's validated domain ("AI not applicable", with the reason).

:func:`check_applicability` is pure: it takes the HU volume, its geometry, the lung mask the worker
already computed and, when available, the penultimate-layer features of the classified slices,
and returns every rule that failed, in words a radiologist can read. Rules, in order:

0. real patient CT: not a synthetic phantom (Manufacturer (0008,0070) of a known generator, such
   as this project's own ``inference.phantom``; its features are close to real CT, so rule 5
   alone does not catch it);
1. axial: the slice normal (from ImageOrientationPatient (0020,0037)) is within about 25° of the
   patient's head-feet axis;
2. slice spacing within what training covered (``DomainLimits.slice_spacing_mm``);
3. plausible HU: air around the body sits near -1000 HU (the mode of voxels in -1500…-500 HU);
4. lungs in the field of view: at least ``min_lung_ml`` of lung, on at least ``min_lung_slices``
   slices spanning at least ``min_lung_extent_mm`` (a head or abdomen CT has none);
5. feature distance: the median, over lung slices, of the Mahalanobis distance of the slice's
   penultimate-layer features from the training slices, divided by the 95th percentile of the
   training slices' own distances, is at most ``max_relative_distance`` (set on held-out volumes,
   recorded in the model card).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

AIR_SEARCH_HU = (-1500.0, -500.0)
AXIAL_MIN_COSINE = 0.9  # |normal . z| >= cos(25 deg)
COVARIANCE_SHRINKAGE = 0.1
REFERENCE_PERCENTILE = 95.0
SYNTHETIC_MANUFACTURERS = ("CT Triage phantom",)  # inference.phantom writes this Manufacturer (0008,0070)


@dataclass(frozen=True)
class DomainLimits:
    """What the model was trained and validated on (the model card's ``domain`` section)."""

    slice_spacing_mm: tuple[float, float] = (0.5, 10.0)
    air_hu: tuple[float, float] = (-1100.0, -900.0)
    min_lung_ml: float = 1000.0
    min_lung_slices: int = 10
    min_lung_extent_mm: float = 100.0
    max_relative_distance: float | None = None

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> DomainLimits:
        """Read the limits from a model card (defaults for a card without a ``domain`` section)."""
        section = dict(card.get("domain", {}).get("limits", {}))
        for key in ("slice_spacing_mm", "air_hu"):
            if key in section:
                section[key] = tuple(section[key])
        return cls(**section)


@dataclass(frozen=True)
class FeatureReference:
    """Mean and shrunk inverse covariance of training slices' penultimate features, and their distance scale."""

    mean: np.ndarray
    precision: np.ndarray
    reference_distance: float

    def save(self, path: str) -> None:
        """Write the reference as npz (float32)."""
        np.savez(path, mean=self.mean.astype(np.float32), precision=self.precision.astype(np.float32),
                 reference_distance=np.float32(self.reference_distance))

    @classmethod
    def load(cls, path: str) -> FeatureReference:
        """Read a reference written by :meth:`save`."""
        with np.load(path) as data:
            return cls(data["mean"], data["precision"], float(data["reference_distance"]))


def mahalanobis_distances(features: np.ndarray, *, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Return the Mahalanobis distance of each row of ``features`` (n, d) (float64, shape (n,))."""
    centred = np.asarray(features, dtype=np.float64) - mean
    return np.sqrt(np.maximum(np.einsum("nd,de,ne->n", centred, precision, centred), 0.0))


def fit_feature_reference(features: np.ndarray, *, shrinkage: float = COVARIANCE_SHRINKAGE) -> FeatureReference:
    """Fit mean and covariance (shrunk towards its diagonal's mean by ``shrinkage``) of training features (n, d)."""
    values = np.asarray(features, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 2:
        raise ValueError(f"need (n >= 2, d) training features, got shape {values.shape}")
    mean = values.mean(axis=0)
    covariance = np.cov(values, rowvar=False)
    target = np.trace(covariance) / covariance.shape[0]
    shrunk = (1 - shrinkage) * covariance + shrinkage * target * np.eye(covariance.shape[0])
    precision = np.linalg.inv(shrunk)
    distances = mahalanobis_distances(values, mean=mean, precision=precision)
    return FeatureReference(mean, precision, float(np.percentile(distances, REFERENCE_PERCENTILE)))


def relative_feature_distance(features: np.ndarray, *, reference: FeatureReference) -> float:
    """Return the study's median slice Mahalanobis distance over the reference's 95th-percentile distance."""
    distances = mahalanobis_distances(features, mean=reference.mean, precision=reference.precision)
    return float(np.median(distances) / reference.reference_distance)


@dataclass(frozen=True)
class Applicability:
    """Outcome of the domain check: ``applicable`` is False when any rule failed; ``reasons`` say which."""

    applicable: bool
    reasons: list[str]
    measurements: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def air_mode_hu(volume_hu: np.ndarray) -> float | None:
    """Return the most frequent HU (10 HU bins) among voxels in ``AIR_SEARCH_HU``, or None if there are none."""
    values = np.asarray(volume_hu)[:, ::4, ::4]
    air = values[(values >= AIR_SEARCH_HU[0]) & (values <= AIR_SEARCH_HU[1])]
    if air.size == 0:
        return None
    counts, edges = np.histogram(air, bins=np.arange(AIR_SEARCH_HU[0], AIR_SEARCH_HU[1] + 10.0, 10.0))
    return float(edges[int(np.argmax(counts))] + 5.0)


def slice_normal_z(orientation: Sequence[float]) -> float:
    """Return |z| of the unit slice normal of ImageOrientationPatient (0020,0037) (1 = axial)."""
    normal = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
    return float(abs(normal[2]) / max(float(np.linalg.norm(normal)), 1e-12))


def check_applicability(
    volume_hu: np.ndarray,
    *,
    spacing_mm: Sequence[float],
    orientation: Sequence[float],
    lung_mask: np.ndarray,
    limits: DomainLimits,
    relative_distance: float | None = None,
    manufacturer: str = "",
) -> Applicability:
    """Check a study against the model's domain (rules 1-5 of the module docstring).

    Parameters
    ----------
    volume_hu : (z, y, x) Hounsfield units; not modified.
    spacing_mm : (z, y, x) voxel spacing in mm.
    orientation : ImageOrientationPatient (0020,0037).
    lung_mask : (z, y, x) boolean lungs (:func:`inference.quantify.segment_lungs`).
    limits : the model card's limits (:meth:`DomainLimits.from_card`).
    relative_distance : :func:`relative_feature_distance` of the study's lung slices; None skips rule 5.
    manufacturer : Manufacturer (0008,0070) of the series (rule 0).

    Returns
    -------
    Applicability with every failed rule's reason and the measured values.
    """
    reasons: list[str] = []
    if manufacturer.strip() in SYNTHETIC_MANUFACTURERS:
        reasons.append(f"synthetic phantom (Manufacturer '{manufacturer.strip()}'), not patient CT: "
                       "the model is validated on real scanner CT only")
    normal_z = slice_normal_z(orientation)
    if normal_z < AXIAL_MIN_COSINE:
        reasons.append(f"not an axial series (slice normal |z| = {normal_z:.2f}; coronal/sagittal reformats are not supported)")
    spacing = float(spacing_mm[0])
    low, high = limits.slice_spacing_mm
    if not low <= spacing <= high:
        reasons.append(f"slice spacing {spacing:.2f} mm is outside the validated {low:g}-{high:g} mm")
    air = air_mode_hu(volume_hu)
    if air is None or not limits.air_hu[0] <= air <= limits.air_hu[1]:
        shown = "no air-like voxels" if air is None else f"air at {air:.0f} HU"
        reasons.append(f"implausible Hounsfield units ({shown}; expected {limits.air_hu[0]:g} to {limits.air_hu[1]:g} HU)")
    lung_ml = float(np.count_nonzero(lung_mask) * np.prod(spacing_mm) / 1000.0)
    area_mm2 = np.count_nonzero(lung_mask, axis=(1, 2)) * float(spacing_mm[1] * spacing_mm[2])
    lung_slices = int(np.count_nonzero(area_mm2 >= 1000.0))  # >= 10 cm² of lung on the slice
    extent_mm = lung_slices * spacing
    if lung_ml < limits.min_lung_ml:
        reasons.append(f"no chest CT with lungs in the field of view ({lung_ml:.0f} ml of lung; at least {limits.min_lung_ml:g} ml needed)")
    elif lung_slices < limits.min_lung_slices or extent_mm < limits.min_lung_extent_mm:
        reasons.append(f"too few lung slices ({lung_slices} slices over {extent_mm:.0f} mm; at least "
                       f"{limits.min_lung_slices} over {limits.min_lung_extent_mm:g} mm needed)")
    if relative_distance is not None and limits.max_relative_distance is not None and relative_distance > limits.max_relative_distance:
        reasons.append(f"image features unlike the training data (distance {relative_distance:.2f} > "
                       f"{limits.max_relative_distance:.2f}, the threshold set on held-out volumes)")
    measurements = {"slice_normal_z": normal_z, "slice_spacing_mm": spacing, "air_mode_hu": air, "lung_ml": lung_ml,
                    "lung_slices": lung_slices, "lung_extent_mm": extent_mm, "relative_feature_distance": relative_distance}
    return Applicability(not reasons, reasons, measurements)
