"""Insert ground-glass, crazy paving and consolidation into real HU lung slices.

Everything works on one axial slice in HU ``(y, x)`` with its per-lung masks; inputs are never
mutated. Lesion HU, texture and noise follow the published CT appearance:

- ground-glass opacity (GGO): hazy increase to about -700…-450 HU that leaves vessels visible
  (the lesion only ever raises a pixel's HU: ``max(original, lesion)``);
- crazy paving: GGO plus a polygonal network of thickened interlobular septa (-350…-150 HU),
  cells 4–10 mm;
- consolidation: soft-tissue density (-10…+60 HU) hiding the vessels, with dark air bronchograms.

Placement (``PATTERNS``):

- ``covid``: the RSNA "typical" COVID-19 appearance — bilateral (most draws), peripheral (within
  about 15 mm of the pleura), multifocal, GGO-predominant with some crazy paving and small
  consolidation; the caller weights host slices towards the lower zones;
- ``pneumonia``: bacterial-pneumonia-like lobar or segmental consolidation — one lung (most
  draws), one large confluent region bounded by a straight fissure-like edge, air bronchograms,
  a thin GGO rim.

Shapes are procedural: an ellipse envelope roughened by smoothed Gaussian noise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage, spatial

LESION_KINDS = ("ggo", "crazy_paving", "consolidation")
GGO_HU_RANGE = (-700.0, -450.0)
SEPTA_HU_RANGE = (-350.0, -150.0)
CONSOLIDATION_HU_RANGE = (-10.0, 60.0)
AIR_BRONCHOGRAM_HU = -750.0
PERIPHERAL_DEPTH_MM = 15.0
EDGE_SOFTNESS_MM = 1.2
_NOISE_FLOOR_HU = 8.0


def smooth_noise(shape: tuple[int, int], *, sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Return a Gaussian random field with unit standard deviation, smoothed by ``sigma_px`` (float32)."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma=max(sigma_px, 0.1))
    return (field / max(float(field.std()), 1e-6)).astype(np.float32)


def random_blob_yx(
    shape: tuple[int, int], *, centre_yx: tuple[float, float], radius_px: float, rng: np.random.Generator,
    roughness: float = 0.35,
) -> np.ndarray:
    """Return a boolean irregular blob: a random ellipse of mean radius ``radius_px`` roughened by noise."""
    if radius_px <= 0:
        raise ValueError(f"radius_px must be positive, got {radius_px}")
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    aspect = rng.uniform(0.6, 1.0)
    dy, dx = yy - centre_yx[0], xx - centre_yx[1]
    u = (dy * np.cos(angle) + dx * np.sin(angle)) / radius_px
    v = (-dy * np.sin(angle) + dx * np.cos(angle)) / (radius_px * aspect)
    distance = np.sqrt(u * u + v * v)
    return np.asarray(distance + roughness * smooth_noise(shape, sigma_px=radius_px / 3, rng=rng) < 1.0)


def _septal_network(shape: tuple[int, int], *, cell_px: float, rng: np.random.Generator) -> np.ndarray:
    """Return the boundaries of random polygonal (Voronoi) cells about ``cell_px`` across (bool)."""
    count = max(4, int(shape[0] * shape[1] / (cell_px * cell_px)))
    seeds = rng.uniform(0, 1, size=(count, 2)) * np.asarray(shape, dtype=np.float64)
    grid = np.stack(np.mgrid[0:shape[0], 0:shape[1]], axis=-1).reshape(-1, 2)
    distances, _ = spatial.cKDTree(seeds).query(grid, k=2)
    return np.asarray((distances[:, 1] - distances[:, 0]).reshape(shape) < 1.0)


def _air_bronchograms(shape: tuple[int, int], *, region: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """Return a few thin branching dark tubes (random walks) starting inside ``region`` (bool)."""
    tubes = np.zeros(shape, dtype=bool)
    inside = np.argwhere(region)
    if inside.size == 0:
        return tubes
    for _ in range(count):
        y, x = inside[rng.integers(len(inside))].astype(np.float64)
        heading = rng.uniform(0, 2 * np.pi)
        for _step in range(int(rng.integers(15, 45))):
            heading += rng.normal(0, 0.25)
            y, x = y + np.sin(heading), x + np.cos(heading)
            if not (0 <= y < shape[0] and 0 <= x < shape[1]):
                break
            tubes[int(y), int(x)] = True
    return tubes & region


def lesion_texture_hu(
    shape: tuple[int, int], *, kind: str, pixel_mm: float, rng: np.random.Generator, region: np.ndarray | None = None
) -> np.ndarray:
    """Return the lesion's own HU field for ``kind`` (see the module docstring), float32 ``shape``.

    ``region`` (the lesion mask) seeds air bronchograms of consolidation.
    """
    if kind not in LESION_KINDS:
        raise ValueError(f"unknown lesion kind {kind!r}; choose one of {LESION_KINDS}")
    if kind == "consolidation":
        level = rng.uniform(*CONSOLIDATION_HU_RANGE)
        texture = level + 15.0 * smooth_noise(shape, sigma_px=1.5 / pixel_mm, rng=rng)
        if region is not None:
            tubes = _air_bronchograms(shape, region=region, rng=rng, count=int(rng.integers(1, 5)))
            dark = ndimage.gaussian_filter(tubes.astype(np.float32), sigma=0.8 / pixel_mm)
            texture = texture + np.clip(dark * 2.0, 0, 1) * (AIR_BRONCHOGRAM_HU - texture)
        return texture.astype(np.float32)
    level = rng.uniform(*GGO_HU_RANGE)
    texture = level + 60.0 * smooth_noise(shape, sigma_px=3.0 / pixel_mm, rng=rng)
    if kind == "crazy_paving":
        box = ndimage.find_objects(region.astype(np.int8))[0] if region is not None and region.any() else np.s_[:, :]
        septa = np.zeros(shape, dtype=bool)
        septa[box] = _septal_network(septa[box].shape, cell_px=rng.uniform(4.0, 10.0) / pixel_mm, rng=rng)
        texture = np.where(septa, np.maximum(texture, rng.uniform(*SEPTA_HU_RANGE)), texture)
    return texture.astype(np.float32)


def image_noise_hu(slice_hu: np.ndarray, *, lung: np.ndarray) -> float:
    """Estimate the slice's noise SD in HU from the lung parenchyma (robust MAD of a high-pass image)."""
    high_pass = slice_hu.astype(np.float32) - ndimage.uniform_filter(slice_hu.astype(np.float32), size=3)
    values = high_pass[ndimage.binary_erosion(lung, iterations=3)]
    if values.size < 100:
        return _NOISE_FLOOR_HU
    return max(float(1.4826 * np.median(np.abs(values - np.median(values)))) * 1.5, _NOISE_FLOOR_HU)


def blend_lesion(
    slice_hu: np.ndarray, *, lesion: np.ndarray, texture_hu: np.ndarray, lung: np.ndarray, kind: str,
    pixel_mm: float, rng: np.random.Generator,
) -> np.ndarray:
    """Return the slice with ``texture_hu`` blended into ``lesion ∩ lung``: soft edge, matched noise (float32).

    GGO and crazy paving only raise HU (vessels stay visible); consolidation replaces the
    parenchyma, air bronchograms included. Noise is added in proportion to the blend weight, at the
    slice's own level, so the lesion is not smoother than the tissue around it.
    """
    region = lesion & lung
    weight = ndimage.gaussian_filter(region.astype(np.float32), sigma=EDGE_SOFTNESS_MM / pixel_mm) * lung
    original = slice_hu.astype(np.float32)
    target = texture_hu if kind == "consolidation" else np.maximum(original, texture_hu)
    noise = image_noise_hu(original, lung=lung) * rng.standard_normal(original.shape).astype(np.float32)
    blended = original + weight * (target - original) + np.sqrt(np.clip(1 - (1 - weight) ** 2, 0, 1)) * noise * (weight > 0.01)
    return blended.astype(np.float32)


def _pick_pixel(candidates: np.ndarray, rng: np.random.Generator) -> tuple[float, float] | None:
    points = np.argwhere(candidates)
    if points.size == 0:
        return None
    y, x = points[rng.integers(len(points))]
    return float(y), float(x)


def _peripheral_band(lung: np.ndarray, *, pixel_mm: float) -> np.ndarray:
    """Return the part of ``lung`` within ``PERIPHERAL_DEPTH_MM`` of its boundary."""
    depth_mm = ndimage.distance_transform_edt(lung) * pixel_mm
    return np.asarray(lung & (depth_mm <= PERIPHERAL_DEPTH_MM))


def covid_lesions(
    lungs: tuple[np.ndarray, np.ndarray], *, pixel_mm: float, rng: np.random.Generator
) -> list[tuple[str, np.ndarray]]:
    """Return (kind, mask) lesions of the COVID-19-typical pattern: bilateral, peripheral, GGO-predominant."""
    sides = [side for side in lungs if side.sum() > 200]
    if not sides:
        return []
    bilateral = len(sides) == 2 and rng.random() < 0.85
    chosen = sides if bilateral else [sides[int(rng.integers(len(sides)))]]
    lesions = []
    shape = lungs[0].shape
    for lung in chosen:
        band = _peripheral_band(lung, pixel_mm=pixel_mm)
        for _ in range(int(rng.integers(1, 4))):
            centre = _pick_pixel(band, rng)
            if centre is None:
                continue
            blob = random_blob_yx(shape, centre_yx=centre, radius_px=rng.uniform(6.0, 28.0) / pixel_mm, rng=rng)
            kind = str(rng.choice(["ggo", "crazy_paving"], p=[0.75, 0.25]))
            lesions.append((kind, blob))
            if rng.random() < 0.25:  # GGO with a small consolidative core
                core = random_blob_yx(shape, centre_yx=centre, radius_px=rng.uniform(3.0, 8.0) / pixel_mm, rng=rng)
                lesions.append(("consolidation", core & blob))
    return lesions


def pneumonia_lesions(
    lungs: tuple[np.ndarray, np.ndarray], *, pixel_mm: float, rng: np.random.Generator
) -> list[tuple[str, np.ndarray]]:
    """Return (kind, mask) lesions of lobar/segmental consolidation in one lung (sometimes both)."""
    sides = [side for side in lungs if side.sum() > 200]
    if not sides:
        return []
    chosen = sides if len(sides) == 2 and rng.random() < 0.15 else [sides[int(rng.integers(len(sides)))]]
    lesions = []
    shape = lungs[0].shape
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    for lung in chosen:
        centre = _pick_pixel(lung, rng)
        if centre is None:
            continue
        # A lobe or segment: the lung cut by a straight fissure-like plane, roughened on the other sides.
        angle = rng.uniform(0, 2 * np.pi)
        offset = rng.uniform(-0.3, 0.4) * np.sqrt(lung.sum() / np.pi)
        side_of_fissure = (yy - centre[0]) * np.sin(angle) + (xx - centre[1]) * np.cos(angle) > offset
        envelope = random_blob_yx(shape, centre_yx=centre, radius_px=rng.uniform(35.0, 80.0) / pixel_mm, rng=rng)
        region = lung & side_of_fissure & envelope
        if region.sum() < 50:
            region = lung & envelope
        lesions.append(("ggo", ndimage.binary_dilation(region, iterations=max(1, int(3.0 / pixel_mm))) & lung))
        lesions.append(("consolidation", region))
    return lesions


PATTERNS: dict[str, Callable[..., list[tuple[str, np.ndarray]]]] = {
    "covid": covid_lesions,
    "pneumonia": pneumonia_lesions,
}


def insert_pattern(
    slice_hu: np.ndarray, *, left_lung: np.ndarray, right_lung: np.ndarray, pattern: str, pixel_mm: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Insert the lesions of ``pattern`` (a key of ``PATTERNS``) into one HU slice.

    Parameters
    ----------
    slice_hu : (y, x) Hounsfield units of a real axial slice; not modified.
    left_lung, right_lung : (y, x) boolean masks of each lung on this slice.
    pattern : "covid" or "pneumonia" (see the module docstring).
    pixel_mm : in-plane pixel spacing, PixelSpacing (0028,0030), mm.
    rng : seeded generator (the only source of randomness).

    Returns
    -------
    (float32 slice in HU, boolean mask of the inserted lesion inside the lungs).
    """
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; choose one of {sorted(PATTERNS)}")
    if slice_hu.shape != left_lung.shape or slice_hu.shape != right_lung.shape:
        raise ValueError(f"slice {slice_hu.shape} and lung masks {left_lung.shape}/{right_lung.shape} must match")
    result = slice_hu.astype(np.float32)
    inserted = np.zeros(slice_hu.shape, dtype=bool)
    lung_full = left_lung | right_lung
    if not lung_full.any():
        return result, inserted
    # Work inside the lungs' bounding box (plus a margin for the soft edge): a third of the pixels.
    margin = int(np.ceil(4 * EDGE_SOFTNESS_MM / pixel_mm)) + 2
    (y_box, x_box), = ndimage.find_objects(lung_full.astype(np.int8))
    box = (slice(max(y_box.start - margin, 0), y_box.stop + margin), slice(max(x_box.start - margin, 0), x_box.stop + margin))
    left, right, lung, crop = left_lung[box], right_lung[box], lung_full[box], result[box]
    for kind, mask in PATTERNS[pattern]((left, right), pixel_mm=pixel_mm, rng=rng):
        region = mask & lung
        if not region.any():
            continue
        texture = lesion_texture_hu(crop.shape, kind=kind, pixel_mm=pixel_mm, rng=rng, region=region)
        crop = blend_lesion(crop, lesion=region, texture_hu=texture, lung=lung, kind=kind, pixel_mm=pixel_mm, rng=rng)
        inserted[box] |= region
    result[box] = crop
    return result, inserted
