"""Tests of inference.augment."""

from __future__ import annotations

import numpy as np
import pytest

from inference.augment import affine_about_centre, augment_batch, augment_slice, jitter_crop_box, scale_shift_intensity


def _gradient_image(side: int = 32) -> np.ndarray:
    return np.tile(np.arange(side, dtype=np.uint8) * 4, (side, 1))


def test_affine_about_centre__identity_keeps_image():
    image = _gradient_image()
    np.testing.assert_array_equal(affine_about_centre(image), image)


def test_affine_about_centre__rotates_90_degrees_like_rot90():
    image = np.zeros((9, 9), np.uint8)
    image[0, 4] = 200  # top centre
    rotated = affine_about_centre(image, rotation_deg=90)
    assert np.unravel_index(int(rotated.argmax()), rotated.shape) in {(4, 0), (4, 8)}
    assert rotated.max() == 200


def test_scale_shift_intensity__clips_to_uint8_range():
    out = scale_shift_intensity(np.array([[0, 100, 250]], np.uint8), scale=1.1, shift=10)
    assert out.tolist() == [[10, 120, 255]]


def test_jitter_crop_box__keeps_shape_and_zooms_in():
    image = _gradient_image()
    out = jitter_crop_box(image, rng=np.random.default_rng(0), max_fraction=0.2)
    assert out.shape == image.shape and out.dtype == np.uint8


def test_augment_slice__probability_zero_is_identity_and_input_untouched():
    image = _gradient_image()
    before = image.copy()
    np.testing.assert_array_equal(augment_slice(image, rng=np.random.default_rng(0), p=0.0), image)
    augment_slice(image, rng=np.random.default_rng(0), p=1.0)
    np.testing.assert_array_equal(image, before)


def test_augment_batch__is_reproducible_with_seed():
    batch = np.stack([_gradient_image()] * 4)
    first = augment_batch(batch, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(first, augment_batch(batch, rng=np.random.default_rng(5)))
    assert not np.array_equal(first, augment_batch(batch, rng=np.random.default_rng(6)))


def test_augment_slice__probability_one_flips_horizontally():
    image = _gradient_image()
    flipped = augment_slice(image, rng=np.random.default_rng(0), p=1.0)
    assert flipped.shape == image.shape and flipped.dtype == np.uint8
    assert flipped[:, :8].mean() > flipped[:, -8:].mean()  # gradient now decreases left to right


def test_jitter_crop_box__rejects_non_square():
    with pytest.raises(ValueError, match="square"):
        jitter_crop_box(np.zeros((4, 6), np.uint8), rng=np.random.default_rng(0))
