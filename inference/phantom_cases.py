"""Small chest phantoms with the hard cases of lesion quantification, each with its ground truth.

Every case is a torso (soft tissue, a fat layer, a table below it) with two lungs at -850 HU, a
scanner blur (Gaussian, ``PSF_SIGMA_MM``) and noise, one or more true lesions whose volume is
known, and the structure that makes the case hard:

- ``vessels_through_plane``: soft-tissue tubes along z, 6 mm wide (the case that read 38.7 ml
  against 11.5 ml before the Hessian filter);
- ``vessels_in_plane``: tubes along x and y; ``vessels_oblique``: tubes at 30–60 degrees to every
  axis; ``vessels_branching``: a trunk splitting twice, 8 → 6 → 4 mm wide;
- ``textured_ggo``: GGO with spatially correlated texture (SD 60 HU) on top of the noise;
- ``crazy_paving``: GGO crossed by thickened interlobular septa (a 6 mm grid at -150 HU);
- ``air_bronchogram``: consolidation crossed by air-filled bronchi (lumen is not lesion);
- ``pleural_effusion``: fluid (15 HU) in the posterior pleural space, outside the lung;
- ``partial_volume_edges``: ground glass touching the costal pleura and the lung base;
- ``airway_tree``: a trachea in the mediastinum splitting into main and lobar bronchi with walls,
  whose open ends join the lung (so at -320 HU the airway is part of the lung), one lobar bronchus
  running through a GGO patch (its wall is not lesion).

Geometry: (z, y, x) = (80, 240, 288) voxels of (2.0, 1.0, 1.0) mm; slice 0 is the most superior,
column increasing = patient left (head-first supine). Lesion truth is the set of voxels that hold
lesion tissue before blur, minus air (bronchial lumen) and vessels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import ndimage

SHAPE = (80, 240, 288)
SPACING_MM = (2.0, 1.0, 1.0)
PSF_SIGMA_MM = 0.5
NOISE_SD_HU = 15.0
LUNG_HU, GGO_HU, CONSOLIDATION_HU, VESSEL_HU, TISSUE_HU, FAT_HU, FLUID_HU, AIR_HU = (
    -850.0, -550.0, -20.0, 40.0, 40.0, -100.0, 15.0, -1000.0)
LUNG_CENTRES_YX_MM = ((120.0, 92.0), (120.0, 196.0))  # right lung (image left), left lung
LUNG_RADII_ZYX_MM = (70.0, 70.0, 42.0)
LUNG_CENTRE_Z_MM = 80.0


@dataclass(frozen=True)
class HardCase:
    """One phantom: HU volume, geometry and the true lesion and lung masks."""

    name: str
    hu: np.ndarray
    spacing_mm: tuple[float, float, float]
    lesion: np.ndarray  # boolean truth
    lungs: np.ndarray  # boolean truth (both lungs, effusion excluded)

    @property
    def lesion_ml(self) -> float:
        """Return the true lesion volume, ml."""
        return float(np.count_nonzero(self.lesion) * np.prod(self.spacing_mm) / 1000.0)


def _grid_mm() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z, y, x = (np.arange(n, dtype=np.float32) * s + s / 2 for n, s in zip(SHAPE, SPACING_MM))
    return z[:, None, None], y[None, :, None], x[None, None, :]


def ellipsoid(centre_zyx_mm: tuple[float, float, float], radii_zyx_mm: tuple[float, float, float]) -> np.ndarray:
    """Return the voxels inside an axis-aligned ellipsoid."""
    z, y, x = _grid_mm()
    return np.asarray(sum(((c - m) / r) ** 2 for c, m, r in zip((z, y, x), centre_zyx_mm, radii_zyx_mm)) <= 1.0)


def tube(start_zyx_mm: tuple[float, float, float], end_zyx_mm: tuple[float, float, float], *,
         radius_mm: float) -> np.ndarray:
    """Return the voxels within ``radius_mm`` of the segment from ``start`` to ``end`` (a capped cylinder)."""
    z, y, x = _grid_mm()
    a = np.asarray(start_zyx_mm, dtype=np.float32)
    d = np.asarray(end_zyx_mm, dtype=np.float32) - a
    t = np.clip(((z - a[0]) * d[0] + (y - a[1]) * d[1] + (x - a[2]) * d[2]) / float(d @ d), 0.0, 1.0)
    return np.asarray((z - a[0] - t * d[0]) ** 2 + (y - a[1] - t * d[1]) ** 2 + (x - a[2] - t * d[2]) ** 2
                      <= radius_mm**2)


def _torso() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Return tissue masks (body, fat, table) and the two lungs."""
    z, y, x = _grid_mm()
    body = ((y - 120.0) / 100.0) ** 2 + ((x - 144.0) / 136.0) ** 2 <= 1.0
    inner = ((y - 120.0) / 92.0) ** 2 + ((x - 144.0) / 128.0) ** 2 <= 1.0
    table = (y > 226.0) & (y < 234.0) & (np.abs(x - 144.0) < 130.0)
    lungs = np.zeros(SHAPE, dtype=bool)
    for cy, cx in LUNG_CENTRES_YX_MM:
        lungs |= ellipsoid((LUNG_CENTRE_Z_MM, cy, cx), LUNG_RADII_ZYX_MM)
    full = np.ones(SHAPE, dtype=bool)
    return {"body": full & body, "fat": full & body & ~inner, "table": full & table}, lungs


def _render(layers: list[tuple[np.ndarray, float]], *, seed: int) -> np.ndarray:
    """Paint layers in order over air, blur in-plane by the PSF and add noise."""
    hu = np.full(SHAPE, AIR_HU, dtype=np.float32)
    for mask, value in layers:
        hu[mask] = value
    hu = ndimage.gaussian_filter(hu, sigma=(0.0, PSF_SIGMA_MM / SPACING_MM[1], PSF_SIGMA_MM / SPACING_MM[2]))
    rng = np.random.default_rng(seed)
    return hu + np.float32(NOISE_SD_HU) * rng.standard_normal(SHAPE, dtype=np.float32)


def _case(name: str, *, lesions: list[tuple[np.ndarray, float]], extra: list[tuple[np.ndarray, float]],
          not_lesion: np.ndarray | None = None, outside_lung: np.ndarray | None = None, seed: int = 0) -> HardCase:
    """Assemble a case: torso, lungs, lesion layers, then ``extra`` structures painted over them."""
    tissue, lungs = _torso()
    if outside_lung is not None:
        lungs &= ~outside_lung
    lesion = np.zeros(SHAPE, dtype=bool)
    layers = [(tissue["body"], TISSUE_HU), (tissue["fat"], FAT_HU), (tissue["table"], TISSUE_HU), (lungs, LUNG_HU)]
    for mask, value in lesions:
        layers.append((mask & lungs, value))
        lesion |= mask & lungs
    for mask, value in extra:
        layers.append((mask & (lungs if outside_lung is None else lungs | outside_lung), value))
        lesion &= ~mask
    if not_lesion is not None:
        lesion &= ~not_lesion
    return HardCase(name, _render(layers, seed=seed), SPACING_MM, lesion, lungs)


def _reference_lesions() -> list[tuple[np.ndarray, float]]:
    """Return one GGO and one consolidation blob away from the vessels (the volume being measured)."""
    return [(ellipsoid((90.0, 150.0, 70.0), (16.0, 16.0, 14.0)), GGO_HU),
            (ellipsoid((60.0, 150.0, 210.0), (12.0, 12.0, 10.0)), CONSOLIDATION_HU)]


def vessels_through_plane() -> HardCase:
    """Build soft-tissue tubes along z, 6 mm wide, in both lungs, beside two reference lesions."""
    vessels = np.zeros(SHAPE, dtype=bool)
    for cy, cx in ((105.0, 95.0), (128.0, 84.0), (108.0, 190.0), (130.0, 204.0)):  # near the lung axes
        vessels |= tube((-10.0, cy, cx), (170.0, cy + 6.0, cx - 4.0), radius_mm=3.0)  # through the whole lung
    return _case("vessels_through_plane", lesions=_reference_lesions(), extra=[(vessels, VESSEL_HU)])


def vessels_in_plane() -> HardCase:
    """Build tubes along x and along y (4–6 mm wide) on several slices."""
    vessels = np.zeros(SHAPE, dtype=bool)
    for z in (40.0, 70.0, 110.0):
        vessels |= tube((z, 100.0, 60.0), (z, 100.0, 125.0), radius_mm=2.5)
        vessels |= tube((z, 70.0, 190.0), (z, 140.0, 190.0), radius_mm=3.0)
    return _case("vessels_in_plane", lesions=_reference_lesions(), extra=[(vessels, VESSEL_HU)])


def vessels_oblique() -> HardCase:
    """Build tubes oblique to every axis (4–6 mm wide)."""
    vessels = tube((30.0, 80.0, 70.0), (120.0, 125.0, 120.0), radius_mm=2.5)
    vessels |= tube((130.0, 85.0, 175.0), (40.0, 125.0, 215.0), radius_mm=3.0)
    vessels |= tube((35.0, 130.0, 195.0), (100.0, 95.0, 160.0), radius_mm=2.0)
    return _case("vessels_oblique", lesions=_reference_lesions(), extra=[(vessels, VESSEL_HU)])


def vessels_branching() -> HardCase:
    """Build a vessel tree in each lung: an 8 mm trunk from the hilum, two 6 mm then four 4 mm branches."""
    vessels = np.zeros(SHAPE, dtype=bool)
    for side, cx in ((-1.0, 125.0), (1.0, 163.0)):
        trunk_end = (80.0, 110.0, cx + side * 20.0)
        vessels |= tube((80.0, 115.0, cx), trunk_end, radius_mm=4.0)
        for dz in (-30.0, 30.0):
            mid = (80.0 + dz, 100.0, cx + side * 40.0)
            vessels |= tube(trunk_end, mid, radius_mm=3.0)
            for dy in (-18.0, 14.0):
                vessels |= tube(mid, (80.0 + 1.8 * dz, 100.0 + dy, cx + side * 62.0), radius_mm=2.0)
    return _case("vessels_branching", lesions=_reference_lesions(), extra=[(vessels, VESSEL_HU)])


def textured_ggo() -> HardCase:
    """Build GGO whose HU varies by a smooth texture (SD ~60 HU, ~3 mm grain) around -550."""
    rng = np.random.default_rng(7)
    texture = ndimage.gaussian_filter(rng.standard_normal(SHAPE).astype(np.float32), sigma=(1.5, 3.0, 3.0))
    texture *= 60.0 / max(float(texture.std()), 1e-6)
    tissue, lungs = _torso()
    blobs = ellipsoid((90.0, 150.0, 70.0), (18.0, 18.0, 15.0)) | ellipsoid((70.0, 120.0, 215.0), (16.0, 20.0, 14.0))
    lesion = blobs & lungs
    hu = np.full(SHAPE, AIR_HU, dtype=np.float32)
    for mask, value in ((tissue["body"], TISSUE_HU), (tissue["fat"], FAT_HU), (tissue["table"], TISSUE_HU),
                        (lungs, LUNG_HU)):
        hu[mask] = value
    hu[lesion] = np.clip(GGO_HU + texture[lesion], -720.0, -320.0)  # texture stays ground glass
    hu = ndimage.gaussian_filter(hu, sigma=(0.0, PSF_SIGMA_MM, PSF_SIGMA_MM))
    hu += np.float32(NOISE_SD_HU) * rng.standard_normal(SHAPE, dtype=np.float32)
    return HardCase("textured_ggo", hu, SPACING_MM, lesion, lungs)


def crazy_paving() -> HardCase:
    """Build GGO crossed by thickened interlobular septa: a 10 mm grid (secondary lobules are 10–25 mm) of 1.5 mm walls at -150 HU."""
    z, y, x = _grid_mm()
    blob = ellipsoid((80.0, 140.0, 75.0), (20.0, 20.0, 16.0))
    septa = blob & (((y % 10.0) < 1.5) | ((x % 10.0) < 1.5))
    case = _case("crazy_paving", lesions=[(blob, GGO_HU), (septa, -150.0)], extra=[])
    return case


def air_bronchogram() -> HardCase:
    """Build consolidation crossed by branching air-filled bronchi (lumen 3 mm wide: not lesion)."""
    blob = ellipsoid((80.0, 140.0, 75.0), (20.0, 22.0, 18.0))
    bronchi = tube((80.0, 120.0, 100.0), (80.0, 160.0, 60.0), radius_mm=1.5)
    bronchi |= tube((80.0, 140.0, 80.0), (60.0, 150.0, 65.0), radius_mm=1.5)
    bronchi |= tube((66.0, 125.0, 75.0), (96.0, 155.0, 75.0), radius_mm=1.5)
    return _case("air_bronchogram", lesions=[(blob, CONSOLIDATION_HU), (ellipsoid((80.0, 120.0, 210.0),
                                                                                  (14.0, 14.0, 12.0)), GGO_HU)],
                 extra=[(bronchi & blob, AIR_HU)])


def pleural_effusion() -> HardCase:
    """Build posterior pleural fluid (15 HU) that takes the dependent part of the right lung's space."""
    z, y, x = _grid_mm()
    _, lungs = _torso()
    fluid = lungs & (y > 160.0) & (x < 144.0)
    return _case("pleural_effusion", lesions=[(ellipsoid((70.0, 110.0, 205.0), (16.0, 16.0, 14.0)), GGO_HU)],
                 extra=[(fluid, FLUID_HU)], outside_lung=fluid)


def partial_volume_edges() -> HardCase:
    """Build ground glass flush against the costal pleura and the lung base (blurred edges on every side).

    Ground glass, not consolidation: consolidation flush with the chest wall is not air at the lung
    threshold and leaves the lung mask itself (a limitation of threshold lung masks, reported).
    """
    costal = ellipsoid((80.0, 125.0, 50.0), (18.0, 18.0, 14.0))  # reaches the lateral wall of the right lung
    basal = ellipsoid((145.0, 120.0, 200.0), (14.0, 18.0, 16.0))  # reaches the base of the left lung
    return _case("partial_volume_edges", lesions=[(costal, GGO_HU), (basal, GGO_HU)], extra=[])


def airway_tree() -> HardCase:
    """Build a trachea (16 mm lumen, 2.5 mm wall) splitting at the carina into main (11 mm, 2 mm) and lobar bronchi.

    The lobar bronchi (7 mm lumen, 1.5 mm wall) end open in the lung, as the tree goes on below CT
    resolution; one crosses a GGO patch. Lung truth excludes the lumen; lesion truth excludes lumen
    and wall.
    """
    tissue, lungs = _torso()
    carina = (60.0, 100.0, 144.0)
    segments = [((-10.0, 100.0, 144.0), carina, 8.0, 2.5)]  # (start, end, lumen radius, wall) in mm
    for side in (-1.0, 1.0):
        hilum = (75.0, 105.0, 144.0 + side * 30.0)
        segments.append((carina, hilum, 5.5, 2.0))
        segments.append((hilum, (50.0, 95.0, 144.0 + side * 58.0), 3.5, 1.5))
        segments.append((hilum, (110.0, 120.0, 144.0 + side * 52.0), 3.5, 1.5))
    lumen, wall = np.zeros(SHAPE, dtype=bool), np.zeros(SHAPE, dtype=bool)
    for start, end, radius_mm, wall_mm in segments:
        lumen |= tube(start, end, radius_mm=radius_mm)
        # The wall stops short of the segment's end so that the last bronchi open into the lung.
        wall |= tube(start, tuple(a + 0.85 * (b - a) for a, b in zip(start, end)), radius_mm=radius_mm + wall_mm)
    wall &= ~lumen & tissue["body"]
    lumen &= tissue["body"]
    patch = ellipsoid((95.0, 113.0, 144.0 + 47.0), (16.0, 14.0, 14.0)) & lungs  # around the left lower bronchus
    references = [(mask & lungs, value) for mask, value in _reference_lesions()]
    lesion = (patch | references[0][0] | references[1][0]) & ~lumen & ~wall
    layers = [(tissue["body"], TISSUE_HU), (tissue["fat"], FAT_HU), (tissue["table"], TISSUE_HU), (lungs, LUNG_HU),
              (patch, GGO_HU), *references, (wall, TISSUE_HU), (lumen, AIR_HU)]
    return HardCase("airway_tree", _render(layers, seed=0), SPACING_MM, lesion, lungs & ~lumen)


HARD_CASES: dict[str, Callable[[], HardCase]] = {
    case.__name__: case for case in (vessels_through_plane, vessels_in_plane, vessels_oblique, vessels_branching,
                                     textured_ggo, crazy_paving, air_bronchogram, pleural_effusion,
                                     partial_volume_edges, airway_tree)
}
