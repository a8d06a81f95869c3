"""Tests of inference.quantify.airways: trachea, airway growth with explosion control, wall shell, wiring."""

import functools

import numpy as np
import pytest

from inference.phantom_cases import AIR_HU, SPACING_MM, TISSUE_HU, airway_tree, vessels_through_plane
from inference.quantify import CONSOLIDATION, GGO, quantify_volume, segment_lesions, segment_lungs
from inference.quantify.airways import (MAX_AIRWAY_ML, airway_wall, find_trachea, grow_airways, segment_airways,
                                        wall_thickness_mm)

VOXEL_ML = float(np.prod(SPACING_MM)) / 1000.0


@functools.lru_cache(maxsize=None)
def airway_case():
    case = airway_tree()
    airways = segment_airways(case.hu, spacing_mm=case.spacing_mm)
    return case, airways, quantify_volume(case.hu, spacing_mm=case.spacing_mm)


def test_find_trachea__finds_the_midline_trachea_of_the_airway_phantom():
    case, _, _ = airway_case()
    seed = find_trachea(case.hu, spacing_mm=case.spacing_mm)
    z, _, x = np.nonzero(seed)
    assert seed.any()
    assert (z.max() - z.min() + 1) * SPACING_MM[0] >= 30.0  # runs at least 30 mm
    assert abs(x.mean() * SPACING_MM[2] - 144.0) < 3.0  # the painted trachea's axis, x = 144 mm
    assert z.max() < 0.4 * case.hu.shape[0]  # searched in the cranial 40 % only
    assert np.all(case.hu[seed] < -900) and not (seed & case.lungs).any()


def test_find_trachea__flips_with_the_slice_order():
    case, _, _ = airway_case()
    seed = find_trachea(case.hu[::-1], spacing_mm=case.spacing_mm, superior_first=False)
    assert np.array_equal(seed[::-1], find_trachea(case.hu, spacing_mm=case.spacing_mm))


def test_segment_airways__finds_nothing_in_a_phantom_without_airways():
    case = vessels_through_plane()
    result = segment_airways(case.hu, spacing_mm=case.spacing_mm)
    assert not result.found and result.threshold_hu is None
    assert not result.lumen.any() and not result.wall.any()


def test_quantify_volume__without_a_trachea_lungs_are_unchanged():
    case = vessels_through_plane()
    result = quantify_volume(case.hu, spacing_mm=case.spacing_mm)
    lungs = segment_lungs(case.hu, spacing_mm=case.spacing_mm)
    assert not result.airway_found and result.airway_lumen_ml == 0.0
    assert np.array_equal(result.lungs.both, lungs.both)
    assert result.to_dict()["airway_found"] is False


def test_grow_airways__explosion_control_stops_the_leak_into_the_lung():
    case, result, _ = airway_case()
    # The lobar bronchi open into the lung: at -850 HU the lung (-850 ± 15 HU) joins and the step is rejected.
    assert result.threshold_hu == -900.0
    lumen_ml = np.count_nonzero(result.lumen) * VOXEL_ML
    assert 10.0 < lumen_ml < 40.0
    assert np.count_nonzero(result.lumen & case.lungs & (case.hu > -900)) == 0


def test_grow_airways__rejects_a_step_that_more_than_doubles_the_volume():
    hu = np.full((60, 80, 80), TISSUE_HU, dtype=np.float32)
    hu[:, 35:45, 35:45] = AIR_HU  # a 10 × 10 mm tube along z: the seed
    hu[20:40, 45:75, 30:50] = -860.0  # a pocket (~ 12 ml, under MAX_AIRWAY_ML) joined only above -860 HU
    seed = np.zeros(hu.shape, dtype=bool)
    seed[:, 35:45, 35:45] = True
    seed[:30] = False  # half of the tube: growth at -900 takes the rest (doubles exactly, accepted)
    lumen, threshold = grow_airways(hu, seed=seed, spacing_mm=(1.0, 1.0, 1.0))
    assert np.count_nonzero(hu[20:40, 45:75, 30:50] < -850) * 0.001 < MAX_AIRWAY_ML
    assert threshold == -900.0
    assert np.array_equal(lumen, hu < -900)


@pytest.mark.parametrize("radius_mm, wall_mm", [(2.0, 1.0), (5.0, 2.0), (9.0, 3.0)])
def test_airway_wall__is_a_fifth_of_the_lumen_diameter_plus_1_mm_of_blur(radius_mm, wall_mm):
    spacing_mm = (2.0, 0.6, 0.6)
    z, y, x = np.ogrid[:30, :120, :120]
    lumen = ((y * 0.6 - 36.0) ** 2 + (x * 0.6 - 36.0) ** 2 <= radius_mm**2) & (z >= 5) & (z < 25)
    assert np.unique(wall_thickness_mm(lumen, spacing_mm=spacing_mm)[lumen]) == pytest.approx(wall_mm, abs=0.1)
    shell_mm2 = np.count_nonzero(airway_wall(lumen, spacing_mm=spacing_mm)[15]) * 0.36
    outer = radius_mm + wall_mm + 1.0
    assert shell_mm2 == pytest.approx(np.pi * (outer**2 - radius_mm**2), rel=0.2)


def test_segment_lesions__not_lesion_voxels_are_never_lesion():
    case, _, _ = airway_case()
    marked = np.zeros(case.hu.shape, dtype=bool)
    marked[:, :, :75] = case.lesion[:, :, :75]  # the GGO reference blob of the right lung
    plain = segment_lesions(case.hu, lung_mask=case.lungs, spacing_mm=case.spacing_mm)
    masked = segment_lesions(case.hu, lung_mask=case.lungs, spacing_mm=case.spacing_mm, not_lesion=marked)
    assert np.count_nonzero(np.isin(plain, (GGO, CONSOLIDATION)) & marked) * VOXEL_ML > 5.0
    assert not (np.isin(masked, (GGO, CONSOLIDATION)) & marked).any()


def test_quantify_volume__airway_wall_is_not_lesion_and_lesion_volume_holds():
    case, airways, result = airway_case()
    wall_in_lung = (case.hu > -300) & case.lungs & airways.wall
    found = np.isin(result.lesion_labels, (GGO, CONSOLIDATION))
    assert wall_in_lung.any() and not (found & wall_in_lung).any()
    assert not (found & airways.wall).any()
    assert result.lesion_total_ml == pytest.approx(case.lesion_ml, rel=0.05)


def test_quantify_volume__lung_volume_excludes_the_airway_lumen():
    case, airways, result = airway_case()
    with_lumen = segment_lungs(case.hu, spacing_mm=case.spacing_mm).both
    true_ml = np.count_nonzero(case.lungs) * VOXEL_ML
    assert result.airway_found and not (result.lungs.both & airways.lumen).any()
    assert result.airway_lumen_ml == pytest.approx(np.count_nonzero(with_lumen & airways.lumen) * VOXEL_ML)
    assert np.count_nonzero(with_lumen) * VOXEL_ML - true_ml > 15.0  # at -320 HU the airway joined the lung
    assert result.lung_total_ml == pytest.approx(true_ml, rel=0.005)
