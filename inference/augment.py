"""Training-time augmentation of uint8 slices (CT-2 recipe): each transform fires with probability p.

Transforms: crop-box jitter, rotation (+-15 deg), horizontal/vertical shear, horizontal flip,
intensity shift and scale. All take a seeded ``numpy.random.Generator``; inputs are never mutated.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from inference.preprocess import resize_slices_uint8

MAX_ROTATION_DEG = 15.0
MAX_SHEAR = 0.15
MAX_CROP_JITTER_FRACTION = 0.10
MAX_INTENSITY_SHIFT = 20.0
MAX_INTENSITY_SCALE_CHANGE = 0.10


def jitter_crop_box(image_uint8: np.ndarray, *, rng: np.random.Generator, max_fraction: float = MAX_CROP_JITTER_FRACTION) -> np.ndarray:
    """Move each edge of the full-frame crop box inwards by up to ``max_fraction`` of the side, resize back."""
    height, width = image_uint8.shape
    if height != width:
        raise ValueError(f"crop-box jitter expects square slices, got {image_uint8.shape}")
    top, bottom = (rng.uniform(0, max_fraction, size=2) * height).astype(int)
    left, right = (rng.uniform(0, max_fraction, size=2) * width).astype(int)
    cropped = image_uint8[top : height - bottom, left : width - right]
    return resize_slices_uint8(cropped, size_px=height) if cropped.shape != image_uint8.shape else cropped.copy()


def affine_about_centre(image_uint8: np.ndarray, *, rotation_deg: float = 0.0, shear_y: float = 0.0, shear_x: float = 0.0) -> np.ndarray:
    """Rotate by ``rotation_deg`` and shear about the image centre in one bilinear resampling (zero fill)."""
    angle = np.deg2rad(rotation_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[1.0, shear_y], [shear_x, 1.0]])
    forward = rotation @ shear
    inverse = np.linalg.inv(forward)
    centre = (np.array(image_uint8.shape, dtype=np.float64) - 1) / 2
    offset = centre - inverse @ centre
    warped = ndimage.affine_transform(image_uint8.astype(np.float32), inverse, offset=offset, order=1, mode="constant", cval=0.0)
    return np.clip(np.rint(warped), 0, 255).astype(np.uint8)


def scale_shift_intensity(image_uint8: np.ndarray, *, scale: float, shift: float) -> np.ndarray:
    """Return ``clip(image * scale + shift, 0, 255)`` as uint8 (grey levels)."""
    return np.clip(np.rint(image_uint8.astype(np.float32) * scale + shift), 0, 255).astype(np.uint8)


def augment_slice(image_uint8: np.ndarray, *, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Apply each CT-2 augmentation independently with probability ``p`` to one square uint8 slice."""
    image = jitter_crop_box(image_uint8, rng=rng) if rng.random() < p else image_uint8
    rotation_deg = rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG) if rng.random() < p else 0.0
    shear_y, shear_x = rng.uniform(-MAX_SHEAR, MAX_SHEAR, size=2) if rng.random() < p else (0.0, 0.0)
    if rotation_deg or shear_y or shear_x:
        image = affine_about_centre(image, rotation_deg=rotation_deg, shear_y=float(shear_y), shear_x=float(shear_x))
    if rng.random() < p:
        image = image[:, ::-1]
    if rng.random() < p:
        image = scale_shift_intensity(
            image,
            scale=1.0 + rng.uniform(-MAX_INTENSITY_SCALE_CHANGE, MAX_INTENSITY_SCALE_CHANGE),
            shift=rng.uniform(-MAX_INTENSITY_SHIFT, MAX_INTENSITY_SHIFT),
        )
    return np.ascontiguousarray(image)


def augment_batch(images_uint8: np.ndarray, *, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Augment every slice of an ``(n, s, s)`` uint8 batch independently (new array)."""
    return np.stack([augment_slice(image, rng=rng, p=p) for image in images_uint8])
