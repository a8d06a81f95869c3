"""Turn a HU volume into the input of the 3D classifier, as COVIDNet 3D does (Sci Rep 2020, Methods).

Clip to [-1024, 1024] HU and scale to [0, 1]; resample the whole scan by linear interpolation to a
stack of ``slices`` square axial images of ``resize_px``; keep the central ``crop_px`` square of each
(paper: 64 × 512² → 64 × 384²). Pure numpy/scipy functions: array first, keyword-only parameters,
input never mutated, float32 out. Volumes are ``(z, y, x)``; the channel axis is added at the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

VOLUME_HU_RANGE = (-1024.0, 1024.0)


@dataclass(frozen=True)
class VolumeGeometry:
    """The model-input grid of a 3D model: ``slices`` × ``crop_px``², cut from ``resize_px``² slices.

    Attributes
    ----------
    slices : axial slices after resampling (paper: 64).
    resize_px : side each axial slice is resized to (paper: 512).
    crop_px : side of the central square kept (paper: 384).
    """

    slices: int = 64
    resize_px: int = 512
    crop_px: int = 384

    def __post_init__(self) -> None:
        if self.slices < 1 or self.crop_px < 1 or self.crop_px > self.resize_px:
            raise ValueError(f"need slices >= 1 and 1 <= crop_px <= resize_px, got {self}")

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Return the model's input shape without the batch axis: ``(slices, crop, crop, 1)``."""
        return (self.slices, self.crop_px, self.crop_px, 1)

    @property
    def crop_offset_px(self) -> int:
        """Return the row/column where the central crop starts in the resized slice."""
        return (self.resize_px - self.crop_px) // 2


PAPER_GEOMETRY = VolumeGeometry(64, 512, 384)
CPU_GEOMETRY = VolumeGeometry(32, 128, 96)  # same 3/4 crop ratio, 1/64 of the paper's voxels


def clip_scale_hu(volume_hu: np.ndarray, *, hu_min: float = VOLUME_HU_RANGE[0],
                  hu_max: float = VOLUME_HU_RANGE[1]) -> np.ndarray:
    """Clip to ``[hu_min, hu_max]`` and rescale linearly to float32 in [0, 1]."""
    if hu_max <= hu_min:
        raise ValueError(f"hu_max ({hu_max}) must be greater than hu_min ({hu_min})")
    return ((np.clip(volume_hu, hu_min, hu_max).astype(np.float32) - np.float32(hu_min))
            / np.float32(hu_max - hu_min))


def resample_volume(volume: np.ndarray, *, shape_zyx: tuple[int, int, int]) -> np.ndarray:
    """Resample a ``(z, y, x)`` volume to ``shape_zyx`` by trilinear interpolation (corners kept aligned)."""
    if volume.ndim != 3:
        raise ValueError(f"volume must be (z, y, x), got shape {volume.shape}")
    factors = [target / current for target, current in zip(shape_zyx, volume.shape)]
    resampled = ndimage.zoom(np.asarray(volume, dtype=np.float32), factors, order=1, mode="nearest",
                             grid_mode=False)
    return np.asarray(resampled, dtype=np.float32)


def centre_crop_yx(volume: np.ndarray, *, crop_px: int) -> np.ndarray:
    """Return the central ``crop_px`` × ``crop_px`` square of every axial slice of a ``(z, y, x)`` volume."""
    height, width = volume.shape[1:]
    if crop_px > min(height, width):
        raise ValueError(f"crop {crop_px}px is larger than the slices ({height}x{width})")
    y0, x0 = (height - crop_px) // 2, (width - crop_px) // 2
    return np.array(volume[:, y0:y0 + crop_px, x0:x0 + crop_px], dtype=np.float32)


def prepare_volume(volume_hu: np.ndarray, *, geometry: VolumeGeometry) -> np.ndarray:
    """Return the model input of one HU volume: float32 ``(slices, crop, crop)`` in [0, 1]."""
    scaled = clip_scale_hu(volume_hu)
    resized = resample_volume(scaled, shape_zyx=(geometry.slices, geometry.resize_px, geometry.resize_px))
    return centre_crop_yx(resized, crop_px=geometry.crop_px)


def model_slice_of(slice_indices: np.ndarray, *, source_slices: int, model_slices: int) -> np.ndarray:
    """Return the model-input slice nearest to each source slice index (the inverse of the z resampling)."""
    if source_slices < 2:
        return np.zeros(np.shape(slice_indices), dtype=np.int64)
    position = np.asarray(slice_indices, dtype=np.float64) * (model_slices - 1) / (source_slices - 1)
    return np.clip(np.rint(position), 0, model_slices - 1).astype(np.int64)


def heatmap_to_source_slice(heatmap_crop: np.ndarray, *, geometry: VolumeGeometry,
                            slice_shape: tuple[int, int]) -> np.ndarray:
    """Map a ``(crop, crop)`` model-grid heatmap onto a source slice: undo the centre crop, then the resize."""
    full = np.zeros((geometry.resize_px, geometry.resize_px), dtype=np.float32)
    start = geometry.crop_offset_px
    full[start:start + geometry.crop_px, start:start + geometry.crop_px] = heatmap_crop
    factors = (slice_shape[0] / geometry.resize_px, slice_shape[1] / geometry.resize_px)
    mapped = ndimage.zoom(full, factors, order=1, mode="nearest", grid_mode=False)
    return np.clip(mapped, 0.0, 1.0).astype(np.float32)


def geometry_from_card(card: dict[str, Any]) -> VolumeGeometry:
    """Return the input geometry a volume model card records in ``input_geometry``."""
    return VolumeGeometry(**{key: int(value) for key, value in card["input_geometry"].items()})
