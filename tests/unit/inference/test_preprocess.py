"""Tests of inference.preprocess against independently computed values."""

from __future__ import annotations


import numpy as np
import pytest

from inference.preprocess import (
    body_mask,
    bounding_box_yx,
    crop_yx,
    hu_to_window_uint8,
    image_to_model_uint8,
    largest_component,
    lung_fraction_per_slice,
    pad_to_square,
    preprocess_study,
    resize_slices_uint8,
    select_lung_slices,
)


@pytest.mark.parametrize("hu, expected", [(-3000, 0), (-1350, 0), (-600, 128), (0, 230), (150, 255), (2000, 255)])
def test_hu_to_window_uint8__maps_ct2_lung_window(hu, expected):
    # (hu + 1350) / 1500 * 255, rounded half to even: -600 -> 127.5 -> 128, 0 -> 229.5 -> 230
    assert hu_to_window_uint8(np.array([hu], np.float32))[0] == expected


def test_hu_to_window_uint8__rejects_empty_window():
    with pytest.raises(ValueError, match="greater than"):
        hu_to_window_uint8(np.zeros(3), hu_min=10, hu_max=10)


def test_hu_to_window_uint8__does_not_mutate_input():
    volume = np.array([[-2000.0, 500.0]])
    hu_to_window_uint8(volume)
    assert volume.tolist() == [[-2000.0, 500.0]]


def test_largest_component__keeps_biggest_blob():
    mask = np.zeros((6, 6), bool)
    mask[0, 0] = True
    mask[2:5, 2:5] = True
    kept = largest_component(mask)
    assert kept.sum() == 9 and not kept[0, 0]


def test_largest_component__empty_mask_stays_empty():
    assert not largest_component(np.zeros((4, 4), bool)).any()


def _phantom_hu(slices: int = 4, side: int = 64) -> np.ndarray:
    """Air around a body disc of 40 HU holding two lung discs of -850 HU."""
    yy, xx = np.mgrid[:side, :side]
    plane = np.full((side, side), -1000.0, np.float32)
    plane[(yy - 32) ** 2 + (xx - 32) ** 2 < 26**2] = 40.0
    for cx in (22, 42):
        plane[(yy - 32) ** 2 + (xx - cx) ** 2 < 8**2] = -850.0
    return np.repeat(plane[np.newaxis], slices, axis=0)


def test_body_mask__fills_lungs_and_excludes_outside_air():
    volume = _phantom_hu()
    mask = body_mask(volume)
    assert mask[:, 32, 22].all() and mask[:, 32, 32].all()
    assert not mask[:, 0, 0].any()


def test_lung_fraction_per_slice__equals_lung_area_over_body_area():
    volume = _phantom_hu()
    body = body_mask(volume)
    yy, xx = np.mgrid[:64, :64]
    lungs = sum(((yy - 32) ** 2 + (xx - cx) ** 2 < 64) for cx in (22, 42))
    expected = lungs.sum() / ((yy - 32) ** 2 + (xx - 32) ** 2 < 26**2).sum()
    assert lung_fraction_per_slice(volume, body=body) == pytest.approx(np.full(4, expected), rel=1e-5)


def test_select_lung_slices__falls_back_to_all_slices():
    assert select_lung_slices(np.array([0.0, 0.2, 0.01]), min_lung_fraction=0.1).tolist() == [1]
    assert select_lung_slices(np.array([0.0, 0.01]), min_lung_fraction=0.1).tolist() == [0, 1]


def test_bounding_box_yx__is_end_exclusive_with_margin():
    mask = np.zeros((10, 12), bool)
    mask[3:5, 4:9] = True
    assert bounding_box_yx(mask) == (3, 5, 4, 9)
    assert bounding_box_yx(mask, margin_px=5) == (0, 10, 0, 12)


def test_crop_yx__returns_copy_of_last_two_axes():
    volume = np.arange(2 * 4 * 4).reshape(2, 4, 4)
    cropped = crop_yx(volume, box=(1, 3, 0, 2))
    cropped[...] = -1
    assert volume.min() == 0 and cropped.shape == (2, 2, 2)


def test_pad_to_square__pads_short_axis_symmetrically():
    padded = pad_to_square(np.ones((2, 6), np.uint8))
    assert padded.shape == (6, 6) and padded[:2].sum() == 0 and padded[2:4].sum() == 12


def test_resize_slices_uint8__keeps_constant_image_constant():
    out = resize_slices_uint8(np.full((3, 40, 50), 77, np.uint8), size_px=16)
    assert out.shape == (3, 16, 16) and out.dtype == np.uint8 and (out == 77).all()


def test_image_to_model_uint8__returns_square_model_input():
    assert image_to_model_uint8(np.zeros((30, 60), np.uint8), size_px=24).shape == (24, 24)


def test_preprocess_study__crops_body_and_drops_non_lung_slices():
    volume = np.concatenate([_phantom_hu(3), np.full((2, 64, 64), 40.0, np.float32)])
    study = preprocess_study(volume, size_px=32, mask_step_px=1, crop_margin_px=0)
    assert study.slice_indices.tolist() == [0, 1, 2]
    assert study.crop_box_yx == (7, 58, 7, 58)  # disc of radius 26 around 32: rows 7..57
    assert study.slices_uint8.shape == (3, 32, 32)


def test_preprocess_study__handles_a_300_slice_volume():
    volume = np.tile(np.kron(_phantom_hu(1), np.ones((1, 8, 8), np.float32)), (300, 1, 1))
    study = preprocess_study(volume, size_px=256)
    assert study.slices_uint8.shape == (300, 256, 256)


@pytest.mark.parametrize("level, width, bounds", [(-600, 1500, (-1350, 150)), (40, 400, (-160, 240)), (0, 1, (-0.5, 0.5))])
def test_window_bounds_hu__and_window_level_width_are_inverse(level, width, bounds):
    from inference.preprocess import window_bounds_hu, window_level_width

    assert window_bounds_hu(level_hu=level, width_hu=width) == bounds
    assert window_level_width(bounds) == (level, width)
