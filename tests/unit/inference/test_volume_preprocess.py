"""Tests of inference.volume_preprocess: HU scaling, resampling, central crop, heatmap mapping."""

from __future__ import annotations

import numpy as np
import pytest

from inference.volume_preprocess import (
    PAPER_GEOMETRY,
    VolumeGeometry,
    centre_crop_yx,
    clip_scale_hu,
    heatmap_to_source_slice,
    model_slice_of,
    prepare_volume,
    resample_volume,
)


@pytest.mark.parametrize("hu, expected", [(-3024, 0.0), (-1024, 0.0), (0, 0.5), (512, 0.75), (1024, 1.0), (3071, 1.0)])
def test_clip_scale_hu__maps_minus_1024_to_1024_onto_unit_interval(hu, expected):
    assert clip_scale_hu(np.array([hu], np.int16))[0] == pytest.approx(expected)


def test_clip_scale_hu__returns_float32_and_leaves_input_alone():
    volume = np.full((2, 2, 2), 2000.0)
    out = clip_scale_hu(volume)
    assert out.dtype == np.float32 and volume[0, 0, 0] == 2000.0


def test_resample_volume__linear_ramp_stays_linear_with_corners_kept():
    ramp = np.broadcast_to(np.linspace(0, 1, 10, dtype=np.float32)[:, None, None], (10, 4, 6))
    out = resample_volume(ramp, shape_zyx=(19, 8, 3))
    assert out.shape == (19, 8, 3)
    np.testing.assert_allclose(out[:, 0, 0], np.linspace(0, 1, 19), atol=1e-6)


def test_centre_crop_yx__keeps_the_central_square():
    volume = np.arange(2 * 8 * 8, dtype=np.float32).reshape(2, 8, 8)
    np.testing.assert_array_equal(centre_crop_yx(volume, crop_px=4), volume[:, 2:6, 2:6])
    with pytest.raises(ValueError, match="larger than the slices"):
        centre_crop_yx(volume, crop_px=9)


def test_prepare_volume__paper_geometry_gives_64_slices_of_384():
    volume = np.random.default_rng(0).uniform(-2000, 2000, (20, 100, 100)).astype(np.float32)
    out = prepare_volume(volume, geometry=PAPER_GEOMETRY)
    assert out.shape == (64, 384, 384) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_volume_geometry__rejects_crop_larger_than_resize():
    with pytest.raises(ValueError, match="crop_px <= resize_px"):
        VolumeGeometry(8, 32, 40)


def test_model_slice_of__maps_first_and_last_source_slice_to_first_and_last_model_slice():
    np.testing.assert_array_equal(model_slice_of(np.array([0, 50, 100]), source_slices=101, model_slices=11), [0, 5, 10])


def test_heatmap_to_source_slice__puts_crop_heat_back_in_the_centre():
    geometry = VolumeGeometry(4, 8, 4)
    heat = np.ones((4, 4), np.float32)
    full = heatmap_to_source_slice(heat, geometry=geometry, slice_shape=(16, 16))
    assert full.shape == (16, 16)
    assert full[8, 8] == pytest.approx(1.0) and full[0, 0] == 0.0 and full[15, 15] == 0.0
