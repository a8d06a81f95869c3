"""Tests of inference.synth: lesions land in the lungs with the HU, texture and placement of their pattern."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from inference.synth import insert_pattern, lesion_texture_hu, random_blob_yx
from inference.synth.lesions import CONSOLIDATION_HU_RANGE, GGO_HU_RANGE, PERIPHERAL_DEPTH_MM

PIXEL_MM = 1.0


def chest_slice(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return a 200x200 HU slice (soft-tissue body, two -850 HU lungs with noise) and its left/right lung masks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:200, 0:200]
    body = ((yy - 100) / 80.0) ** 2 + ((xx - 100) / 95.0) ** 2 < 1
    right = ((yy - 100) / 55.0) ** 2 + ((xx - 60) / 30.0) ** 2 < 1
    left = ((yy - 100) / 55.0) ** 2 + ((xx - 140) / 30.0) ** 2 < 1
    slice_hu = np.where(body, 40.0, -1000.0) + rng.normal(0, 15, (200, 200))
    slice_hu[left | right] = -850.0 + rng.normal(0, 15, int((left | right).sum()))
    return slice_hu.astype(np.float32), left, right


def test_insert_pattern__keeps_lesions_inside_the_lungs_and_leaves_input_unchanged():
    slice_hu, left, right = chest_slice()
    before = slice_hu.copy()
    result, lesion = insert_pattern(slice_hu, left_lung=left, right_lung=right, pattern="covid", pixel_mm=PIXEL_MM,
                                    rng=np.random.default_rng(1))
    assert lesion.any() and not (lesion & ~(left | right)).any()
    np.testing.assert_array_equal(slice_hu, before)
    far_outside = ~ndimage.binary_dilation(left | right, iterations=6)
    np.testing.assert_array_equal(result[far_outside], slice_hu[far_outside])


def test_insert_pattern__same_seed_same_slice():
    slice_hu, left, right = chest_slice()
    first = insert_pattern(slice_hu, left_lung=left, right_lung=right, pattern="pneumonia", pixel_mm=PIXEL_MM, rng=np.random.default_rng(5))
    second = insert_pattern(slice_hu, left_lung=left, right_lung=right, pattern="pneumonia", pixel_mm=PIXEL_MM, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(first[0], second[0])


def test_insert_pattern__covid_is_mostly_bilateral_peripheral_ground_glass():
    slice_hu, left, right = chest_slice()
    depth_mm = np.maximum(ndimage.distance_transform_edt(left), ndimage.distance_transform_edt(right)) * PIXEL_MM
    bilateral, peripheral, ggo_fraction = 0, [], []
    for seed in range(20):
        result, lesion = insert_pattern(slice_hu, left_lung=left, right_lung=right, pattern="covid", pixel_mm=PIXEL_MM,
                                        rng=np.random.default_rng(seed))
        bilateral += bool((lesion & left).any() and (lesion & right).any())
        peripheral.append(np.median(depth_mm[lesion]))
        ggo_fraction.append(np.mean((result[lesion] > -750) & (result[lesion] < -300)))
    assert bilateral >= 14  # designed for 85 %
    assert np.median(peripheral) < PERIPHERAL_DEPTH_MM < np.median(depth_mm[left | right]) * 2
    assert np.median(ggo_fraction) > 0.5


def test_insert_pattern__pneumonia_is_mostly_unilateral_consolidation():
    slice_hu, left, right = chest_slice()
    unilateral, dense = 0, []
    for seed in range(20):
        result, lesion = insert_pattern(slice_hu, left_lung=left, right_lung=right, pattern="pneumonia", pixel_mm=PIXEL_MM,
                                        rng=np.random.default_rng(seed))
        unilateral += not ((lesion & left).any() and (lesion & right).any())
        dense.append(np.mean(result[lesion] > -300))
    assert unilateral >= 14  # designed for 85 %
    assert np.median(dense) > 0.5


def test_lesion_texture_hu__levels_match_the_published_ranges():
    rng = np.random.default_rng(0)
    ggo = lesion_texture_hu((64, 64), kind="ggo", pixel_mm=PIXEL_MM, rng=rng)
    consolidation = lesion_texture_hu((64, 64), kind="consolidation", pixel_mm=PIXEL_MM, rng=rng)
    assert GGO_HU_RANGE[0] - 50 < np.median(ggo) < GGO_HU_RANGE[1] + 50
    assert CONSOLIDATION_HU_RANGE[0] - 30 < np.median(consolidation) < CONSOLIDATION_HU_RANGE[1] + 30
    assert ggo.std() > 20  # textured, not flat


def test_lesion_texture_hu__crazy_paving_adds_septal_lines_over_ground_glass():
    region = np.ones((80, 80), dtype=bool)
    paving = lesion_texture_hu((80, 80), kind="crazy_paving", pixel_mm=PIXEL_MM, rng=np.random.default_rng(2), region=region)
    ggo = lesion_texture_hu((80, 80), kind="ggo", pixel_mm=PIXEL_MM, rng=np.random.default_rng(2), region=region)
    assert (paving >= ggo).all() and np.mean(paving > -350) > 0.05


def test_insert_pattern__ground_glass_leaves_vessels_visible():
    slice_hu, left, right = chest_slice()
    slice_hu[100, 40:80] = 40.0  # a vessel across the right lung
    result, lesion = insert_pattern(slice_hu, left_lung=left, right_lung=right, pattern="covid", pixel_mm=PIXEL_MM,
                                    rng=np.random.default_rng(3))
    vessel = np.zeros_like(lesion)
    vessel[100, 40:80] = True
    covered = vessel & lesion & (result < -300)  # consolidation cores may hide it; ground glass must not
    assert result[vessel].mean() > -100 and covered.sum() <= vessel.sum() // 2


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "fog"}, "unknown lesion kind"),
])
def test_lesion_texture_hu__rejects_unknown_kinds(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lesion_texture_hu((8, 8), pixel_mm=1.0, rng=np.random.default_rng(0), **kwargs)


def test_insert_pattern__rejects_unknown_pattern_and_mismatched_masks():
    slice_hu, left, right = chest_slice()
    with pytest.raises(ValueError, match="unknown pattern"):
        insert_pattern(slice_hu, left_lung=left, right_lung=right, pattern="tb", pixel_mm=1.0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="must match"):
        insert_pattern(slice_hu, left_lung=left[:10], right_lung=right, pattern="covid", pixel_mm=1.0, rng=np.random.default_rng(0))


def test_random_blob_yx__covers_about_the_ellipse_area_and_rejects_bad_radius():
    blob = random_blob_yx((200, 200), centre_yx=(100, 100), radius_px=30, rng=np.random.default_rng(0))
    assert 0.3 * np.pi * 30**2 < blob.sum() < 1.5 * np.pi * 30**2 and blob[100, 100]
    with pytest.raises(ValueError, match="radius_px"):
        random_blob_yx((10, 10), centre_yx=(5, 5), radius_px=0, rng=np.random.default_rng(0))
