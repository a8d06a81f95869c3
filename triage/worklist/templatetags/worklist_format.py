"""Display helpers for worklist and viewer templates: percent from fractions, durations."""
from django import template

register = template.Library()


@register.filter
def percent(fraction, digits: int = 0) -> str:
    """Show a 0–1 fraction as percent ("–" when unknown)."""
    if fraction is None or fraction == "":
        return "–"
    return f"{float(fraction) * 100:.{int(digits)}f} %"


@register.filter
def duration_minutes(minutes) -> str:
    """Show whole minutes as "45 min", "2 h 05 min" or "3 d 4 h"."""
    minutes = int(minutes)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {rest:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
