"""Pure helpers that turn stored AI numbers into what the structured report shows."""
from dataclasses import dataclass
from typing import Any

from inference.quantify.scoring import MAX_TOTAL_SCORE

TREND_WIDTH, TREND_HEIGHT = 240.0, 36.0
ZONE_ORDER = ("right_upper", "right_middle", "right_lower", "left_upper", "left_middle", "left_lower")
CARD_METRICS = ("sensitivity", "specificity", "roc_auc", "ppv", "npv")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    low_hu: float
    high_hu: float
    count: int


@dataclass(frozen=True)
class ZoneRow:
    name: str
    percent: float | None
    score: int | None


def histogram_bars(histogram: dict[str, Any], *, width: float = 320.0, height: float = 100.0) -> list[Bar]:
    """Lay out a ``{'bin_edges_hu', 'counts'}`` histogram as SVG bars (tallest bar = ``height``)."""
    edges, counts = histogram.get("bin_edges_hu") or [], histogram.get("counts") or []
    if not counts or len(edges) != len(counts) + 1:
        return []
    tallest = max(counts) or 1
    step = width / len(counts)
    bars = []
    for i, count in enumerate(counts):
        bar_height = height * count / tallest
        bars.append(Bar(x=round(i * step, 2), y=round(height - bar_height, 2), width=round(step * 0.9, 2),
                        height=round(bar_height, 2), low_hu=edges[i], high_hu=edges[i + 1], count=int(count)))
    return bars


def zone_rows(zones: dict[str, Any]) -> list[ZoneRow]:
    """Return per-zone lesion percent and 0–5 score, right lung first, upper to lower."""
    names = [n for n in ZONE_ORDER if n in zones] + sorted(n for n in zones if n not in ZONE_ORDER)
    rows = []
    for name in names:
        zone = zones[name] or {}
        fraction = zone.get("lesion_fraction", zone.get("involvement_fraction"))  # rows stored before 0002
        rows.append(ZoneRow(name=name.replace("_", " ").capitalize(),
                            percent=None if fraction is None else 100.0 * fraction, score=zone.get("score")))
    return rows


def model_card_summary(card: dict[str, Any]) -> dict[str, Any]:
    """Pick the test metrics (with 95 % CIs), data and limitations from a model card."""
    metrics = card.get("test_metrics") or {}
    picked = []
    for name in CARD_METRICS:
        metric = metrics.get(name)
        if isinstance(metric, dict) and metric.get("value") is not None:
            interval = metric.get("ci95")
            picked.append({"name": name.replace("_", "-").upper() if name in ("ppv", "npv", "roc_auc") else name,
                           "value": metric["value"], "ci95": interval if interval and len(interval) == 2 else None})
    data = card.get("data")
    return {"metrics": picked, "n": metrics.get("n"), "data": data if isinstance(data, str) else "",
            "limitations": card.get("limitations") if isinstance(card.get("limitations"), str) else ""}


def lesion_percent(quantification) -> dict[str, float]:
    """Return the lesion proportion of each lung and of both, in percent (stored as 0–1)."""
    return {"left": 100.0 * quantification.lesion_fraction_left, "right": 100.0 * quantification.lesion_fraction_right,
            "both": 100.0 * quantification.lesion_fraction_both}


@dataclass(frozen=True)
class TrendRow:
    """One measure over the follow-up studies as an SVG polyline, with its points for dots and titles."""

    name: str
    points: list[dict]  # {"x", "y", "label", "current"} in chart pixels
    path: str  # SVG path data; a study without a value breaks the line
    maximum_label: str


def trend_rows(series: list, *, measures: list[tuple[str, str, float, Any]], width: float = TREND_WIDTH,
               height: float = TREND_HEIGHT) -> list[TrendRow]:
    """Lay out follow-up points as one small chart per measure (x: study order, y: 0…maximum).

    ``measures`` are ``(name, attribute, maximum, format)``: ``format(value) -> str`` labels a dot.
    Studies without a value leave a gap in the line.
    """
    step = width / max(1, len(series) - 1)
    rows = []
    for name, attribute, maximum, fmt in measures:
        points, segments, current = [], [], []
        for i, point in enumerate(series):
            value = getattr(point, attribute)
            if value is None:
                if current:
                    segments.append(current)
                current = []
                continue
            x, y = round(i * step, 1), round(height - height * min(value, maximum) / (maximum or 1), 1)
            current.append(f"{x},{y}")
            points.append({"x": x, "y": y, "label": f"{point.when:%Y-%m-%d}: {fmt(value)}",
                           "current": point.is_this_study})
        if current:
            segments.append(current)
        rows.append(TrendRow(name=name, points=points, maximum_label=fmt(maximum),
                             path=" ".join("M " + " L ".join(segment) for segment in segments)))
    return rows


def follow_up_panel(series: list) -> dict | None:
    """Return what the follow-up panel shows: the studies and a trend row per measure (``None``: no priors)."""
    if not series:
        return None
    lesion_top = max([p.lesion_fraction_both for p in series if p.lesion_fraction_both is not None] + [0.01])
    measures = [
        ("COVID-19 probability", "covid_probability", 1.0, lambda v: f"{100 * v:.0f} %"),
        ("Lesion, both lungs", "lesion_fraction_both", lesion_top, lambda v: f"{100 * v:.1f} %"),
        ("Severity", "severity_total", float(MAX_TOTAL_SCORE), lambda v: f"{v:.0f} / {MAX_TOTAL_SCORE}"),
    ]
    return {"series": series, "trends": trend_rows(series, measures=measures),
            "width": TREND_WIDTH, "height": TREND_HEIGHT}
