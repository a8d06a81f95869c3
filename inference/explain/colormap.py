"""Perceptual colour maps as 256×3 uint8 lookup tables, interpolated from published control points.

The control points are the ten evenly spaced colours that matplotlib's ``viridis`` and ``inferno``
produce (as listed by R's viridisLite, e.g. ``viridis(10)``); linear RGB interpolation between
them stays within a few levels of the full 256-entry tables.
"""

from __future__ import annotations

import numpy as np

CONTROL_POINTS_HEX = {
    "viridis": (
        "440154", "482878", "3E4A89", "31688E", "26828E", "1F9E89", "35B779", "6DCD59", "B4DE2C", "FDE725",
    ),
    "inferno": (
        "000004", "1B0C42", "4B0C6B", "781C6D", "A52C60", "CF4446", "ED6925", "FB9A06", "F7D03C", "FCFFA4",
    ),
}


def colormap_lut(name: str = "inferno") -> np.ndarray:
    """Return the 256×3 uint8 RGB lookup table of a colour map (``"viridis"`` or ``"inferno"``)."""
    if name not in CONTROL_POINTS_HEX:
        raise ValueError(f"unknown colour map {name!r}; choose one of {sorted(CONTROL_POINTS_HEX)}")
    points = np.array([[int(h[i : i + 2], 16) for i in (0, 2, 4)] for h in CONTROL_POINTS_HEX[name]], dtype=float)
    stops = np.linspace(0.0, 1.0, len(points))
    levels = np.linspace(0.0, 1.0, 256)
    table = np.stack([np.interp(levels, stops, points[:, channel]) for channel in range(3)], axis=1)
    return np.asarray(np.rint(table), dtype=np.uint8)


def apply_colormap(values: np.ndarray, *, name: str = "inferno") -> np.ndarray:
    """Map values in [0, 1] (clipped) to uint8 RGB, shape ``values.shape + (3,)``."""
    indices = np.rint(np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0) * 255.0).astype(np.intp)
    return np.asarray(colormap_lut(name)[indices])
