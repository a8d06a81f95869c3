"""Tests for Grad-CAM explanations, key-slice selection, overlays and heatmap storage."""

import io

import numpy as np
import pytest
from PIL import Image

from inference.explain import (
    decode_heatmap,
    encode_heatmap,
    gradcam,
    mask_heatmaps,
    render_lesion_outline_png,
    render_overlay_png,
    select_key_slices,
)
from inference.explain.colormap import apply_colormap, colormap_lut
from inference.explain.demo import build_demo_model, phantom_slices, train_demo_model
from inference.explain.render import COLOUR_BAR_PANEL_PX, OUTLINE_RGB, blend_heatmap, lesion_outlines, window_to_rgb
from inference.quantify import CONSOLIDATION, GGO

SIZE_PX = 64


@pytest.fixture(scope="module")
def untrained_model():
    return build_demo_model(size_px=SIZE_PX, seed=0)


@pytest.fixture(scope="module")
def trained_model():
    return train_demo_model(size_px=SIZE_PX, seed=0)


@pytest.fixture(scope="module")
def held_out():
    return phantom_slices(count=32, size_px=SIZE_PX, seed=99)


def _lesion_beats_mirror(heatmaps, labels, lesion_masks):
    """Count lesion slices whose heat over the lesion exceeds the heat over its left-right mirror."""
    return sum(
        heatmaps[i][lesion_masks[i]].sum() > heatmaps[i][lesion_masks[i][:, ::-1]].sum()
        for i in np.flatnonzero(labels)
    )


def test_gradcam__returns_unit_range_maps_at_input_size(untrained_model, held_out):
    images = held_out[0][:5]
    heatmaps = gradcam(untrained_model, images, class_index=1)
    assert heatmaps.shape == (5, SIZE_PX, SIZE_PX) and heatmaps.dtype == np.float32
    assert heatmaps.min() >= 0.0 and heatmaps.max() <= 1.0
    np.testing.assert_allclose(heatmaps.max(axis=(1, 2))[heatmaps.max(axis=(1, 2)) > 0], 1.0)


def test_gradcam__batch_matches_single_slices_and_channel_axis(untrained_model, held_out):
    images = held_out[0][:4]
    batched = gradcam(untrained_model, images[..., None], class_index=1)
    singles = np.concatenate([gradcam(untrained_model, images[i : i + 1], class_index=1) for i in range(4)])
    np.testing.assert_allclose(batched, singles, atol=1e-4)


def test_gradcam__rejects_bad_shapes_and_unknown_layer(untrained_model, held_out):
    with pytest.raises(ValueError):
        gradcam(untrained_model, held_out[0][0], class_index=1)
    with pytest.raises(ValueError):
        gradcam(untrained_model, held_out[0][:2], class_index=1, layer_name="no_such_layer")


def test_gradcam__highlights_the_lesion_not_its_mirror(trained_model, untrained_model, held_out):
    images, labels, lesion_masks, _ = held_out
    probabilities = trained_model.predict(images[..., None], verbose=0)[:, 1]
    positives, negatives = probabilities[labels == 1], probabilities[labels == 0]
    auc = (positives[:, None] > negatives[None, :]).mean()
    assert auc >= 0.9, "the demo model must have learned lesion vs no lesion before its maps mean anything"
    trained_maps = gradcam(trained_model, images, class_index=1)
    assert _lesion_beats_mirror(trained_maps, labels, lesion_masks) >= 14  # of 16 lesion slices
    # Control: before training the same architecture does not prefer the lesion.
    untrained_maps = gradcam(untrained_model, images, class_index=1)
    assert _lesion_beats_mirror(untrained_maps, labels, lesion_masks) <= 8


def test_gradcam__works_on_the_project_classifier():
    models = pytest.importorskip("inference.models")
    model = models.build_model("s", input_size_px=64, num_classes=3)
    images = np.random.default_rng(0).integers(0, 256, size=(2, 64, 64), dtype=np.uint8)
    heatmaps = gradcam(model, images, class_index=0)
    assert heatmaps.shape == (2, 64, 64) and 0.0 <= heatmaps.min() <= heatmaps.max() <= 1.0


def test_mask_heatmaps__zeroes_outside_lung_and_rescales():
    heatmaps = np.full((2, 4, 4), 0.5, dtype=np.float32)
    heatmaps[0, 0, 0] = 1.0
    lungs = np.zeros((2, 4, 4), dtype=bool)
    lungs[0, 1:3, 1:3] = True
    masked = mask_heatmaps(heatmaps, lung_masks=lungs)
    assert masked[0][~lungs[0]].max() == 0.0
    np.testing.assert_allclose(masked[0][lungs[0]], 1.0)
    assert not masked[1].any()


@pytest.mark.parametrize(
    "probs, k, expected",
    [([0.1, 0.9, 0.5, 0.9], 2, [1, 3]), ([0.3, 0.2], 8, [0, 1]), ([0.2, 0.7, 0.4], 1, [1])],
)
def test_select_key_slices__returns_most_probable_first(probs, k, expected):
    assert select_key_slices(np.array(probs), k=k).tolist() == expected


def test_select_key_slices__rejects_k_below_one():
    with pytest.raises(ValueError):
        select_key_slices(np.array([0.5]), k=0)


@pytest.mark.parametrize(
    "name, level, rgb",
    [("viridis", 0, (0x44, 0x01, 0x54)), ("viridis", 255, (0xFD, 0xE7, 0x25)), ("inferno", 0, (0, 0, 4)),
     ("inferno", 255, (0xFC, 0xFF, 0xA4))],
)
def test_colormap_lut__matches_published_end_colours(name, level, rgb):
    lut = colormap_lut(name)
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    assert tuple(lut[level]) == rgb


def test_colormap_lut__is_monotonic_in_luminance():
    for name in ("viridis", "inferno"):
        luminance = colormap_lut(name).astype(float) @ np.array([0.2126, 0.7152, 0.0722])
        assert (np.diff(luminance) > -1.0).all(), name


def test_apply_colormap__clips_values_into_the_table():
    rgb = apply_colormap(np.array([-1.0, 0.0, 2.0]), name="viridis")
    np.testing.assert_array_equal(rgb, colormap_lut("viridis")[[0, 0, 255]])


def test_window_to_rgb__maps_lung_window_linearly():
    rgb = window_to_rgb(np.array([[-2000.0, -1350.0, -600.0, 150.0, 900.0]]))
    assert rgb[0, :, 0].tolist() == [0, 0, 128, 255, 255]


def test_blend_heatmap__leaves_cold_pixels_unchanged_and_tints_hot_ones():
    slice_hu = np.full((4, 4), -600.0, dtype=np.float32)
    heatmap = np.zeros((4, 4), dtype=np.float32)
    heatmap[0, 0] = 1.0
    blended = blend_heatmap(slice_hu, heatmap, alpha=0.5, colormap="inferno")
    assert blended[1, 1].tolist() == [128, 128, 128]
    expected = np.rint(0.5 * 128 + 0.5 * colormap_lut("inferno")[255].astype(float))
    assert blended[0, 0].tolist() == expected.tolist()


def test_render_overlay_png__adds_colour_bar_panel():
    slice_hu = np.full((96, 80), -850.0, dtype=np.float32)
    heatmap = np.linspace(0.0, 1.0, 96 * 80, dtype=np.float32).reshape(96, 80)
    with Image.open(io.BytesIO(render_overlay_png(slice_hu, heatmap))) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        assert image.size == (80 + COLOUR_BAR_PANEL_PX, 96)
        bar_column = np.asarray(image)[:, 80 + 12]
    lut = colormap_lut("inferno")
    assert (bar_column == lut[255]).all(axis=1).any() and (bar_column == lut[0]).all(axis=1).any()


def test_render_overlay_png__rejects_mismatched_shapes_and_alpha():
    with pytest.raises(ValueError):
        render_overlay_png(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError):
        render_overlay_png(np.zeros((4, 4)), np.zeros((4, 4)), alpha=1.5)


def test_lesion_outlines__keeps_only_region_borders():
    labels = np.zeros((7, 7), dtype=np.uint8)
    labels[1:6, 1:6] = GGO
    outlines = lesion_outlines(labels)
    assert outlines[3, 3] == 0 and outlines[1, 3] == GGO and outlines[0, 0] == 0
    assert np.count_nonzero(outlines) == 16


def test_render_lesion_outline_png__draws_coloured_outlines_alone_on_transparency():
    labels = np.zeros((20, 20), dtype=np.uint8)
    labels[2:8, 2:8] = GGO
    labels[12:18, 12:18] = CONSOLIDATION
    with Image.open(io.BytesIO(render_lesion_outline_png(labels))) as image:
        assert image.mode == "RGBA"
        rgba = np.asarray(image)
    assert tuple(rgba[2, 4]) == (*OUTLINE_RGB[GGO], 255)
    assert tuple(rgba[12, 14]) == (*OUTLINE_RGB[CONSOLIDATION], 255)
    assert rgba[5, 5, 3] == 0 and rgba[0, 0, 3] == 0  # inside a lesion and outside: transparent
    assert np.count_nonzero(rgba[..., 3]) == np.count_nonzero(lesion_outlines(labels))


def test_encode_heatmap__round_trips_within_half_a_level():
    heatmap = np.random.default_rng(1).random((64, 48)).astype(np.float32)
    data = encode_heatmap(heatmap)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = decode_heatmap(data)
    assert decoded.shape == (64, 48) and decoded.dtype == np.float32
    assert np.abs(decoded - heatmap).max() <= 0.5 / 255 + 1e-6


def test_encode_heatmap__is_compact_for_smooth_maps():
    rows, columns = np.mgrid[:512, :512]
    smooth = np.exp(-((rows - 200) ** 2 + (columns - 300) ** 2) / 5000.0).astype(np.float32)
    assert len(encode_heatmap(smooth)) < 512 * 512 // 10


def test_encode_heatmap__rejects_non_2d():
    with pytest.raises(ValueError):
        encode_heatmap(np.zeros((2, 3, 4)))
