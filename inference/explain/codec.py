"""Store heatmaps compactly as 8-bit grayscale PNG."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode_heatmap(heatmap: np.ndarray) -> bytes:
    """Quantise a (H, W) heatmap in [0, 1] (clipped) to 0–255 and return it as 8-bit grayscale PNG bytes."""
    values = np.asarray(heatmap, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"heatmap must be 2-D (H, W), got shape {values.shape}")
    levels = np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(levels).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def decode_heatmap(data: bytes) -> np.ndarray:
    """Decode PNG bytes from :func:`encode_heatmap` into a float32 (H, W) heatmap in [0, 1] (step 1/255)."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
