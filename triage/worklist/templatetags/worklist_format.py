"""Display helpers for worklist, viewer and report templates: percent from fractions, severity, durations."""
from django import template

from inference.explain.render import OUTLINE_RGB
from inference.quantify.lesions import CONSOLIDATION, GGO
from inference.quantify.scoring import MAX_TOTAL_SCORE
from triage.worklist.imaging import heatmap_colormap

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


@register.filter
def severity(total, maximum=None) -> str:
    """Show a severity total as "score / max"; the max is the result's own or the scoring's (never a literal)."""
    if total is None or total == "":
        return "–"
    return f"{int(total)} / {int(maximum or MAX_TOTAL_SCORE)}"


@register.inclusion_tag("worklist/_overlay_key.html")
def overlay_key(heatmap: bool = True) -> dict:
    """Render the key of the overlays from the colours the renderer uses (one colour map); ``heatmap=False``
    leaves out the Grad-CAM ramp for a model that has none (a key for an overlay never shown misleads)."""
    names = {GGO: "Ground-glass opacity", CONSOLIDATION: "Consolidation"}
    return {"heatmap": heatmap, "ramp": "linear-gradient(90deg, " + ", ".join(heatmap_colormap()["stops"]) + ")", "outlines": [{"name": names[label], "rgb": ", ".join(str(c) for c in rgb)}
                         for label, rgb in OUTLINE_RGB.items()]}
