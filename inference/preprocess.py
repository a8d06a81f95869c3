"""Turn HU volumes and 8-bit slice images into uint8 model inputs.

Every function is pure: array first, keyword-only parameters, the input is never
mutated. Volumes are ``(z, y, x)``; the channel axis is added at the model boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

# Display and model windows as (hu_min, hu_max); the viewer's level/width come from these.
LUNG_WINDOW_HU = (-1350.0, 150.0)  # CT-2 lung window = level -600, width 1500
MEDIASTINAL_WINDOW_HU = (-160.0, 240.0)  # level 40, width 400
BODY_THRESHOLD_HU = -500.0
LUNG_THRESHOLD_HU = -400.0
MODEL_SIZES_PX = (224, 256, 512)
_PER_SLICE_2D = np.zeros((3, 3, 3), dtype=bool)
_PER_SLICE_2D[1] = ndimage.generate_binary_structure(2, 1)


def hu_to_window_uint8(
    volume_hu: np.ndarray, *, hu_min: float = LUNG_WINDOW_HU[0], hu_max: float = LUNG_WINDOW_HU[1]
) -> np.ndarray:
    """Clip to ``[hu_min, hu_max]`` and rescale linearly to uint8 0..255 (CT-2 lung window).

    Parameters
    ----------
    volume_hu : array of Hounsfield units, any shape.
    hu_min, hu_max : window bounds in HU; ``hu_min`` maps to 0 and ``hu_max`` to 255.

    Returns
    -------
    uint8 array of the same shape, rounded to the nearest grey level.
    """
    if hu_max <= hu_min:
        raise ValueError(f"hu_max ({hu_max}) must be greater than hu_min ({hu_min})")
    scale = np.float32(255.0 / (hu_max - hu_min))
    scaled = (np.clip(volume_hu, hu_min, hu_max).astype(np.float32) - np.float32(hu_min)) * scale
    return np.rint(scaled).astype(np.uint8)


def window_bounds_hu(*, level_hu: float, width_hu: float) -> tuple[float, float]:
    """Return ``(hu_min, hu_max)`` of a window given as level and width ((0028,1050) *Window Center*, (0028,1051) *Window Width*)."""
    return level_hu - width_hu / 2.0, level_hu + width_hu / 2.0


def window_level_width(window_hu: tuple[float, float]) -> tuple[float, float]:
    """Return ``(level_hu, width_hu)`` of a window given as ``(hu_min, hu_max)``."""
    hu_min, hu_max = window_hu
    return (hu_min + hu_max) / 2.0, hu_max - hu_min


def largest_component(mask: np.ndarray, *, structure: np.ndarray | None = None) -> np.ndarray:
    """Keep only the largest connected component of a boolean mask (empty stays empty)."""
    labels, count = ndimage.label(mask, structure=structure)
    if count == 0:
        return np.zeros(mask.shape, dtype=bool)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def body_mask(volume_hu: np.ndarray, *, threshold_hu: float = BODY_THRESHOLD_HU) -> np.ndarray:
    """Segment the body: voxels above ``threshold_hu``, largest 3D component, holes filled per slice.

    Returns
    -------
    bool array shaped like ``volume_hu`` (a 2D slice is treated as a one-slice volume).
    """
    volume = np.asarray(volume_hu)
    stack = volume[np.newaxis] if volume.ndim == 2 else volume
    body = largest_component(stack > threshold_hu)
    filled = ndimage.binary_fill_holes(body, structure=_PER_SLICE_2D)
    return filled[0] if volume.ndim == 2 else filled


def bounding_box_yx(mask: np.ndarray, *, margin_px: int = 0) -> tuple[int, int, int, int]:
    """Return ``(y0, y1, x0, x1)`` (end-exclusive) enclosing a 2D or 3D mask, or the full frame if empty."""
    plane = mask.any(axis=0) if mask.ndim == 3 else mask
    height, width = plane.shape
    rows, cols = np.flatnonzero(plane.any(axis=1)), np.flatnonzero(plane.any(axis=0))
    if rows.size == 0:
        return 0, height, 0, width
    return (
        max(int(rows[0]) - margin_px, 0),
        min(int(rows[-1]) + 1 + margin_px, height),
        max(int(cols[0]) - margin_px, 0),
        min(int(cols[-1]) + 1 + margin_px, width),
    )


def crop_yx(volume: np.ndarray, *, box: tuple[int, int, int, int]) -> np.ndarray:
    """Crop the last two axes to ``box = (y0, y1, x0, x1)`` and return a copy."""
    y0, y1, x0, x1 = box
    return np.array(volume[..., y0:y1, x0:x1])


def pad_to_square(slices: np.ndarray, *, fill_value: float = 0) -> np.ndarray:
    """Pad the last two axes symmetrically with ``fill_value`` so that height equals width."""
    height, width = slices.shape[-2:]
    side = max(height, width)
    pad_y, pad_x = side - height, side - width
    pad = [(0, 0)] * (slices.ndim - 2) + [(pad_y // 2, pad_y - pad_y // 2), (pad_x // 2, pad_x - pad_x // 2)]
    return np.pad(slices, pad, constant_values=fill_value)


def resize_slices_uint8(slices: np.ndarray, *, size_px: int = 512) -> np.ndarray:
    """Resize uint8 slices ``(n, h, w)`` or one ``(h, w)`` slice to ``size_px`` square (bilinear, antialiased)."""
    if size_px <= 0:
        raise ValueError(f"size_px must be positive, got {size_px}")
    stack = np.asarray(slices, dtype=np.uint8)
    single = stack.ndim == 2
    stack = stack[np.newaxis] if single else stack
    out = np.empty((stack.shape[0], size_px, size_px), dtype=np.uint8)
    for index, plane in enumerate(stack):
        out[index] = np.asarray(Image.fromarray(plane).resize((size_px, size_px), Image.Resampling.BILINEAR))
    return out[0] if single else out


def lung_fraction_per_slice(
    volume_hu: np.ndarray, *, body: np.ndarray, lung_threshold_hu: float = LUNG_THRESHOLD_HU
) -> np.ndarray:
    """Return, per slice, the fraction (0-1) of body voxels below ``lung_threshold_hu`` (float32, shape (z,))."""
    low = (volume_hu < lung_threshold_hu) & body
    body_count = body.sum(axis=(1, 2))
    return (low.sum(axis=(1, 2)) / np.maximum(body_count, 1)).astype(np.float32)


def select_lung_slices(lung_fraction: np.ndarray, *, min_lung_fraction: float = 0.05) -> np.ndarray:
    """Return indices of slices whose lung fraction reaches ``min_lung_fraction``; all slices if none does."""
    selected = np.flatnonzero(lung_fraction >= min_lung_fraction)
    return selected if selected.size else np.arange(lung_fraction.shape[0])


def image_to_model_uint8(image_uint8: np.ndarray, *, size_px: int = 512) -> np.ndarray:
    """Prepare one already-windowed 8-bit slice image: pad to square, resize to ``size_px``."""
    return resize_slices_uint8(pad_to_square(np.asarray(image_uint8, dtype=np.uint8)), size_px=size_px)


@dataclass(frozen=True)
class StudyPlan:
    """Which slices of a study the model sees, and the body crop they share.

    Attributes
    ----------
    slice_indices : (n,) index of each lung slice in the source volume's z axis.
    lung_fraction : (z,) fraction of body voxels below the lung threshold, every source slice.
    crop_box_yx : (y0, y1, x0, x1) body crop in source pixel coordinates.
    """

    slice_indices: np.ndarray
    lung_fraction: np.ndarray
    crop_box_yx: tuple[int, int, int, int]


@dataclass(frozen=True)
class PreprocessedStudy(StudyPlan):
    """Model-ready slices of one study: a :class:`StudyPlan` plus ``slices_uint8`` (n, size_px, size_px)."""

    slices_uint8: np.ndarray


def plan_study(
    volume_hu: np.ndarray,
    *,
    min_lung_fraction: float = 0.05,
    mask_step_px: int = 4,
    crop_margin_px: int = 8,
) -> StudyPlan:
    """Choose the lung slices of a HU volume ``(z, y, x)`` and the body crop box they share.

    The body mask and lung fractions are computed on an in-plane grid subsampled by
    ``mask_step_px`` (fast on 300x512x512); the crop box is mapped back to full resolution.
    """
    volume = np.asarray(volume_hu)
    if volume.ndim != 3:
        raise ValueError(f"volume_hu must be (z, y, x), got shape {volume.shape}")
    coarse = volume[:, ::mask_step_px, ::mask_step_px]
    body = body_mask(coarse)
    lung_fraction = lung_fraction_per_slice(coarse, body=body)
    slice_indices = select_lung_slices(lung_fraction, min_lung_fraction=min_lung_fraction)
    y0, y1, x0, x1 = bounding_box_yx(body[slice_indices])
    height, width = volume.shape[1:]
    box = (
        max(y0 * mask_step_px - crop_margin_px, 0),
        min(y1 * mask_step_px + crop_margin_px, height),
        max(x0 * mask_step_px - crop_margin_px, 0),
        min(x1 * mask_step_px + crop_margin_px, width),
    )
    return StudyPlan(slice_indices, lung_fraction, box)


def render_model_slices(volume_hu: np.ndarray, plan: StudyPlan, *, indices: np.ndarray, size_px: int) -> np.ndarray:
    """Return slices ``indices`` of the volume as model input: lung window, plan's crop, square resize (uint8)."""
    windowed = hu_to_window_uint8(crop_yx(np.asarray(volume_hu)[indices], box=plan.crop_box_yx))
    return resize_slices_uint8(pad_to_square(windowed), size_px=size_px)


def preprocess_study(
    volume_hu: np.ndarray,
    *,
    size_px: int = 512,
    min_lung_fraction: float = 0.05,
    mask_step_px: int = 4,
    crop_margin_px: int = 8,
) -> PreprocessedStudy:
    """Run HU volume ``(z, y, x)`` -> lung window -> body crop -> square resize, keeping lung slices."""
    plan = plan_study(volume_hu, min_lung_fraction=min_lung_fraction, mask_step_px=mask_step_px,
                      crop_margin_px=crop_margin_px)
    slices = render_model_slices(volume_hu, plan, indices=plan.slice_indices, size_px=size_px)
    return PreprocessedStudy(plan.slice_indices, plan.lung_fraction, plan.crop_box_yx, slices)
