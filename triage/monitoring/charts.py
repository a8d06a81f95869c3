"""Small inline SVG charts for the dashboards (no JS, scale with the page, readable by screen readers).

Every chart has a ``<title>`` and the page shows a table with the exact numbers beside it.
"""
from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, MARGIN = 320, 240, 40
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _x(value: float, width: int = WIDTH) -> float:
    return round(MARGIN + value * (width - 1.5 * MARGIN), 1)


def _y(value: float) -> float:
    return round(HEIGHT - MARGIN - value * (HEIGHT - 1.5 * MARGIN), 1)


def _frame(title: str, x_label: str, y_label: str, *, width: int = WIDTH, x_ticks: bool = True) -> list[str]:
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" role="img" '
             f'class="chart" aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<rect x="{_x(0)}" y="{_y(1)}" width="{_x(1, width) - _x(0)}" height="{_y(0) - _y(1)}" class="frame"/>']
    for tick in TICKS:
        parts.append(f'<text x="{MARGIN - 4}" y="{_y(tick) + 4}" class="tick" text-anchor="end">{tick:g}</text>')
        if x_ticks:
            parts.append(f'<text x="{_x(tick, width)}" y="{_y(0) + 14}" class="tick" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<text x="{(_x(0) + _x(1, width)) / 2}" y="{HEIGHT - 4}" class="label" text-anchor="middle">'
                 f'{escape(x_label)}</text>')
    parts.append(f'<text x="10" y="{(_y(0) + _y(1)) / 2}" class="label" text-anchor="middle" '
                 f'transform="rotate(-90 10 {(_y(0) + _y(1)) / 2})">{escape(y_label)}</text>')
    return parts


def _polyline(points: Sequence[tuple[float, float]], css_class: str, width: int = WIDTH) -> str:
    coords = " ".join(f"{_x(x, width)},{_y(y)}" for x, y in points)
    return f'<polyline points="{coords}" class="{css_class}"/>'


def unit_square_chart(points: Sequence[tuple[float, float]], *, title: str, x_label: str, y_label: str,
                      markers: bool = False) -> SafeString:
    """Draw ``points`` (both coordinates in [0, 1]) over the dashed diagonal."""
    parts = _frame(title, x_label, y_label)
    parts.append(_polyline([(0, 0), (1, 1)], "diagonal"))
    if len(points) > 1:
        parts.append(_polyline(points, "series"))
    if markers:
        parts += [f'<circle cx="{_x(x)}" cy="{_y(y)}" r="3" class="marker"/>' for x, y in points]
    parts.append("</svg>")
    return mark_safe("".join(parts))


def curves_chart(curves: Sequence[tuple[str, Sequence[tuple[float, float]]]], *, title: str, x_label: str,
                 y_label: str) -> SafeString:
    """Draw several named curves in [0, 1]² (e.g. two models' ROC) over the dashed diagonal, with a legend."""
    parts = _frame(title, x_label, y_label)
    parts.append(_polyline([(0, 0), (1, 1)], "diagonal"))
    for i, (name, points) in enumerate(curves):
        css_class = f"series series-{i}"
        if len(points) > 1:
            parts.append(_polyline(points, css_class))
        y = _y(0.08) - 14 * (len(curves) - 1 - i)  # bottom right: where ROC curves are not
        parts.append(f'<line x1="{_x(0.42)}" y1="{y - 3}" x2="{_x(0.5)}" y2="{y - 3}" class="{css_class}"/>'
                     f'<text x="{_x(0.52)}" y="{y}" class="tick">{escape(name)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def drift_chart(weeks: Sequence, *, title: str) -> SafeString:
    """Draw the weekly median (line) and IQR (band) of the probability, and the positive rate (dashed)."""
    width = max(WIDTH, 60 + 28 * len(weeks))
    parts = _frame(title, "ISO week", "probability / rate", width=width, x_ticks=False)
    n = len(weeks)
    xs = [0.5 if n == 1 else i / (n - 1) for i in range(n)]
    band = [(x, w.q3) for x, w in zip(xs, weeks, strict=True)] + [(x, w.q1) for x, w in reversed(list(zip(xs, weeks, strict=True)))]
    parts.append(f'<polygon points="{" ".join(f"{_x(x, width)},{_y(y)}" for x, y in band)}" class="band"/>')
    parts.append(_polyline([(x, w.median) for x, w in zip(xs, weeks, strict=True)], "series", width))
    parts.append(_polyline([(x, w.positive_rate) for x, w in zip(xs, weeks, strict=True)], "rate", width))
    for x, w in zip(xs, weeks, strict=True):
        parts.append(f'<circle cx="{_x(x, width)}" cy="{_y(w.median)}" r="3" class="marker"/>')
        parts.append(f'<text x="{_x(x, width)}" y="{_y(0) + 14}" class="tick" text-anchor="middle">'
                     f'{escape(w.iso_week[-3:])}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def bar_chart(values: Sequence[tuple[str, int]], *, title: str) -> SafeString:
    """Draw one bar per (label, count), e.g. studies per day."""
    width = max(WIDTH, 60 + 22 * len(values))
    top = max([count for _, count in values] + [1])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" role="img" class="chart" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<text x="{MARGIN - 4}" y="{_y(1) + 4}" class="tick" text-anchor="end">{top}</text>',
             f'<text x="{MARGIN - 4}" y="{_y(0) + 4}" class="tick" text-anchor="end">0</text>']
    step = (width - 1.5 * MARGIN) / max(len(values), 1)
    for i, (label, count) in enumerate(values):
        x, h = MARGIN + i * step, (HEIGHT - 1.5 * MARGIN) * count / top
        parts.append(f'<rect x="{x + 2:.1f}" y="{_y(0) - h:.1f}" width="{step - 4:.1f}" height="{h:.1f}" class="bar">'
                     f'<title>{escape(label)}: {count}</title></rect>')
        parts.append(f'<text x="{x + step / 2:.1f}" y="{_y(0) + 14}" class="tick" text-anchor="middle">'
                     f'{escape(label[-2:])}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
