"""Zone involvement, severity scores and lesion HU statistics.

Zones are a lobe surrogate: each lung's z-extent (first to last slice holding that lung) is cut
into thirds, upper (superior) / middle / lower. Six zones in all.

Severity score per zone from the fraction of the zone's lung volume that is lesion:
0 = under 1 %, 1 = [1, 5 %), 2 = [5, 25 %), 3 = [25, 50 %), 4 = [50, 75 %), 5 = [75, 100 %].
The floor of score 1 (``SCORE_1_MIN_FRACTION``) follows the quantitative lobe scores that start
their first band at 1 % involvement (Chaganti et al. 2020, Radiol Artif Intell, "percentage of
opacity" lung severity score: 1 = 1–25 %); a visual reader's "< 5 %" has no lower bound, but an
automatic mask always carries a residue of partial volume and vessel ends well under 1 % of a zone
that no reader would score, and 1 % of a zone (~5 ml) is about twenty 0.25 ml lesions.
The total is the sum over the six zones, 0–30 (CT severity score in the style of Chung et al.
2020 / Pan et al. 2020, with z-thirds standing in for lobes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ZONES = ("upper", "middle", "lower")
SCORE_1_MIN_FRACTION = 0.01  # involvement under 1 % of a zone scores 0 (see module docstring)
SCORE_LOWER_BOUNDS = (0.05, 0.25, 0.50, 0.75)  # fraction lower bounds of scores 2..5
MAX_TOTAL_SCORE = 5 * 2 * len(ZONES)
HISTOGRAM_EDGES_HU = np.arange(-1000.0, 100.0 + 50.0, 50.0)
PERCENTILES = (5, 25, 50, 75, 95)


def zone_index_per_slice(lung: np.ndarray, *, superior_first: bool = True) -> np.ndarray:
    """Return each slice's zone index (0 upper, 1 middle, 2 lower; -1 outside the lung's z-extent).

    Parameters
    ----------
    lung : boolean (z, y, x) mask of ONE lung.
    superior_first : True when slice 0 is the most superior (head) slice.
    """
    present = np.flatnonzero(lung.any(axis=(1, 2)))
    zones = np.full(lung.shape[0], -1, dtype=np.int64)
    if present.size == 0:
        return zones
    first, last = int(present[0]), int(present[-1])
    depth = np.arange(first, last + 1) - first
    if not superior_first:
        depth = depth[::-1]
    zones[first : last + 1] = np.clip(depth * 3 // (last - first + 1), 0, 2)
    return zones


def severity_score(fraction: float) -> int:
    """Map a zone's lesion fraction (0–1) to the 0–5 severity score (see module docstring)."""
    if fraction < SCORE_1_MIN_FRACTION:
        return 0
    return 1 + int(np.searchsorted(SCORE_LOWER_BOUNDS, fraction, side="right"))


@dataclass(frozen=True)
class LesionHu:
    """HU statistics of a set of lesion voxels (None without voxels); histogram on ``HISTOGRAM_EDGES_HU``."""

    voxels: int
    mean_hu: float | None
    sd_hu: float | None
    percentiles_hu: dict[str, float | None]  # "p5" … "p95"
    histogram_edges_hu: list[float]
    histogram_counts: list[int]


def lesion_hu_statistics(lesion_hu: np.ndarray) -> LesionHu:
    """Summarise lesion HU values: mean, SD, percentiles and a fixed-bin histogram.

    The histogram uses ``HISTOGRAM_EDGES_HU`` (-1000 … +100 HU, 50 HU bins); values outside are
    clipped into the first/last bin so that counts sum to the number of voxels.
    """
    values = np.asarray(lesion_hu, dtype=np.float64).ravel()
    clipped = np.clip(values, HISTOGRAM_EDGES_HU[0], HISTOGRAM_EDGES_HU[-1])
    counts, _ = np.histogram(clipped, bins=HISTOGRAM_EDGES_HU)
    empty = values.size == 0
    percentiles = [None] * len(PERCENTILES) if empty else [float(v) for v in np.percentile(values, PERCENTILES)]
    return LesionHu(
        voxels=int(values.size),
        mean_hu=None if empty else float(values.mean()),
        sd_hu=None if empty else float(values.std()),
        percentiles_hu={f"p{p}": v for p, v in zip(PERCENTILES, percentiles)},
        histogram_edges_hu=HISTOGRAM_EDGES_HU.tolist(),
        histogram_counts=counts.astype(int).tolist(),
    )
