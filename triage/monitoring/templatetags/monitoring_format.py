"""Formatting of metric values for the dashboards: fractions as percent, CIs as ranges, seconds as durations."""
from django import template

register = template.Library()
DASH = "—"


@register.filter
def pct(value, digits: int = 1) -> str:
    return DASH if value is None else f"{100 * value:.{int(digits)}f} %"


@register.filter
def ci(interval) -> str:
    return DASH if not interval else f"{100 * interval[0]:.1f}–{100 * interval[1]:.1f} %"


@register.filter
def ci_raw(interval) -> str:
    return DASH if not interval else f"{interval[0]:.3f}–{interval[1]:.3f}"


@register.filter
def num(value, digits: int = 3) -> str:
    return DASH if value is None else f"{value:.{int(digits)}f}"


@register.filter
def duration(seconds) -> str:
    if seconds is None:
        return DASH
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
