"""Draw small line charts (ROC, reliability) as PNG with Pillow (no matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CANVAS_PX = 420
MARGIN_PX = 50
_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _to_canvas(x: float, y: float) -> tuple[float, float]:
    span = CANVAS_PX - 2 * MARGIN_PX
    return MARGIN_PX + x * span, CANVAS_PX - MARGIN_PX - y * span


def draw_unit_square_chart(
    path: str | Path, *, xs: np.ndarray, ys: np.ndarray, title: str, x_label: str, y_label: str, markers: bool = False
) -> None:
    """Draw ``ys`` against ``xs`` (both in [0, 1]) over a dashed diagonal and save a PNG at ``path``."""
    image = Image.new("RGB", (CANVAS_PX, CANVAS_PX), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([_to_canvas(0, 1), _to_canvas(1, 0)], outline="black")
    for tick in _TICKS:
        tx, ty = _to_canvas(tick, 0)
        draw.line([tx, ty, tx, ty + 4], fill="black")
        draw.text((tx - 10, ty + 6), f"{tick:g}", fill="black")
        lx, ly = _to_canvas(0, tick)
        draw.line([lx - 4, ly, lx, ly], fill="black")
        draw.text((lx - 30, ly - 5), f"{tick:g}", fill="black")
    for start in np.arange(0.0, 1.0, 0.04):
        draw.line([*_to_canvas(start, start), *_to_canvas(start + 0.02, start + 0.02)], fill="grey")
    points = [_to_canvas(float(x), float(y)) for x, y in zip(xs, ys, strict=True) if np.isfinite(x) and np.isfinite(y)]
    if len(points) > 1:
        draw.line(points, fill="firebrick", width=2)
    for px, py in points if markers else []:
        draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill="firebrick")
    draw.text((MARGIN_PX, 15), title, fill="black")
    draw.text((CANVAS_PX / 2 - 40, CANVAS_PX - 22), x_label, fill="black")
    draw.text((5, 30), y_label, fill="black")
    image.save(path)
