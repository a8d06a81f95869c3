"""Diagnostic accuracy metrics with vectorised bootstrap confidence intervals.

Positive class = COVID-19 (label 1). Undefined values (e.g. sensitivity with no
positives) are ``None``, never a crash and never NaN in returned dictionaries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

METRIC_NAMES = ("auc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "f1")
_BOOTSTRAP_CELLS_PER_CHUNK = 5_000_000  # resamples x cases held in memory at once (~40 MB)


def _as_binary_arrays(y_true: Sequence[int] | np.ndarray, y_score: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(y_true).astype(np.int64).ravel()
    scores = np.asarray(y_score, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"y_true has {labels.size} values but y_score has {scores.size}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("y_true must contain only 0 (negative) and 1 (positive)")
    return labels, scores


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


@dataclass(frozen=True)
class _SortedCases:
    """Cases laid out once for fast weighted metrics: negatives sorted by score, then positives.

    Column ``j`` of a weights matrix is the ``j``-th case of this layout, so negatives and
    positives are contiguous views and each positive's rank among negatives is precomputed.
    """

    n_negative: int
    negatives_below: np.ndarray
    negatives_at_or_below: np.ndarray
    outcome_indicators: np.ndarray

    @classmethod
    def from_arrays(cls, labels: np.ndarray, scores: np.ndarray, threshold: float) -> _SortedCases:
        positive = labels == 1
        negative_scores, positive_scores = np.sort(scores[~positive]), scores[positive]
        layout_scores = np.r_[negative_scores, positive_scores]
        layout_positive = np.r_[np.zeros(negative_scores.size, bool), np.ones(positive_scores.size, bool)]
        predicted = layout_scores >= threshold
        # columns: true positive, false negative, false positive, true negative
        outcomes = [layout_positive & predicted, layout_positive & ~predicted, ~layout_positive & predicted, ~layout_positive & ~predicted]
        return cls(
            n_negative=int(negative_scores.size),
            negatives_below=np.searchsorted(negative_scores, positive_scores, side="left"),
            negatives_at_or_below=np.searchsorted(negative_scores, positive_scores, side="right"),
            outcome_indicators=np.stack(outcomes, axis=1).astype(np.float32),
        )

    def metrics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Compute every metric for each row of case weights (rows = resamples, columns = cases in layout order)."""
        tp, fn, fp, tn = (weights @ self.outcome_indicators).astype(np.float64).T
        negative_cumulative = np.zeros((weights.shape[0], self.n_negative + 1), dtype=weights.dtype)
        np.cumsum(weights[:, : self.n_negative], axis=1, out=negative_cumulative[:, 1:])
        below = negative_cumulative[:, self.negatives_below]
        ties = negative_cumulative[:, self.negatives_at_or_below] - below
        wins = (weights[:, self.n_negative :] * (below + 0.5 * ties)).sum(axis=1, dtype=np.float64)
        return {"auc": _safe_ratio(wins, (tp + fn) * (fp + tn)), **_confusion_metrics(tp=tp, fn=fn, fp=fp, tn=tn)}


def _confusion_metrics(*, tp: np.ndarray, fn: np.ndarray, fp: np.ndarray, tn: np.ndarray) -> dict[str, np.ndarray]:
    """Return every confusion-matrix metric per element of the (resampled) cell counts; NaN where undefined."""
    return {
        "accuracy": _safe_ratio(tp + tn, tp + tn + fp + fn),
        "sensitivity": _safe_ratio(tp, tp + fn),
        "specificity": _safe_ratio(tn, tn + fp),
        "ppv": _safe_ratio(tp, tp + fp),
        "npv": _safe_ratio(tn, tn + fn),
        "f1": _safe_ratio(2 * tp, 2 * tp + fp + fn),
    }


def _none_if_nan(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def binary_metrics(
    y_true: Sequence[int] | np.ndarray,
    y_score: Sequence[float] | np.ndarray,
    threshold: float = 0.5,
    n_boot: int = 10000,
    seed: int = 0,
) -> dict[str, Any]:
    """Compute AUC, accuracy, sensitivity, specificity, PPV, NPV and F1 with bootstrap 95 % CIs.

    Parameters
    ----------
    y_true : labels, 1 = positive (COVID-19), 0 = negative.
    y_score : positive-class probability or any score; ``score >= threshold`` predicts positive.
    threshold : decision threshold on ``y_score``.
    n_boot : number of case resamples (percentile bootstrap); 0 disables CIs.
    seed : seed of the numpy Generator drawing the resamples.

    Returns
    -------
    ``{"n", "threshold", "confusion_matrix": [[tn, fp], [fn, tp]], "<metric>": {"value", "ci95"}}``;
    a value is ``None`` where undefined, a CI is ``None`` where no resample defines it.

    Notes
    -----
    Resamples are drawn in chunks as float32 case-count matrices (exact for counts).
    Negatives are sorted once by score and each positive's rank among them is found
    once, so the AUC of every resample is a weighted Mann-Whitney statistic (ties count
    one half) from one cumulative sum: no per-resample sort, no loop over resamples.
    """
    labels, scores = _as_binary_arrays(y_true, y_score)
    cases = _SortedCases.from_arrays(labels, scores, threshold)
    n_cases = labels.size
    point = {name: float(values[0]) for name, values in cases.metrics(np.ones((1, n_cases), np.float32)).items()}
    samples = _bootstrap_samples(n_cases, n_boot=n_boot, seed=seed, statistic=cases.metrics)

    tp, fn, fp, tn = (int(count) for count in cases.outcome_indicators.sum(axis=0))
    result: dict[str, Any] = {"n": int(n_cases), "threshold": float(threshold), "confusion_matrix": [[tn, fp], [fn, tp]]}
    for name in METRIC_NAMES:
        result[name] = {"value": _none_if_nan(point[name]), "ci95": _percentile_interval(samples.get(name))}
    return result


def _bootstrap_samples(
    n_cases: int, *, n_boot: int, seed: int, statistic: Callable[[np.ndarray], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Evaluate ``statistic`` on ``n_boot`` resampled case-count matrices, chunk by chunk."""
    if n_boot <= 0 or n_cases == 0:
        return {}
    rng = np.random.default_rng(seed)
    chunks: list[dict[str, np.ndarray]] = []
    rows_per_chunk = max(1, _BOOTSTRAP_CELLS_PER_CHUNK // n_cases)
    for start in range(0, n_boot, rows_per_chunk):
        rows = min(rows_per_chunk, n_boot - start)
        picks = rng.integers(0, n_cases, size=(rows, n_cases), dtype=np.int32) + (np.arange(rows, dtype=np.int32) * n_cases)[:, np.newaxis]
        counts = np.bincount(picks.ravel(), minlength=rows * n_cases).reshape(rows, n_cases).astype(np.float32)
        chunks.append(statistic(counts))
    return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in chunks[0]}


def _percentile_interval(samples: np.ndarray | None) -> list[float] | None:
    if samples is None:
        return None
    finite = samples[~np.isnan(samples)]
    if finite.size == 0:
        return None
    low, high = np.percentile(finite, [2.5, 97.5])
    return [float(low), float(high)]


def cohen_kappa(a: Sequence[Any] | np.ndarray, b: Sequence[Any] | np.ndarray) -> float | None:
    """Return Cohen's kappa between two raters' labels, or ``None`` when chance agreement is 1."""
    first, second = np.asarray(a).ravel(), np.asarray(b).ravel()
    if first.shape != second.shape:
        raise ValueError(f"raters labelled {first.size} and {second.size} cases")
    if first.size == 0:
        return None
    categories, codes = np.unique(np.concatenate([first, second]), return_inverse=True)
    k = categories.size
    table = np.bincount(codes[: first.size] * k + codes[first.size:], minlength=k * k).reshape(k, k) / first.size
    observed = np.trace(table)
    expected = float(table.sum(axis=1) @ table.sum(axis=0))
    return None if expected >= 1.0 else float((observed - expected) / (1.0 - expected))


def roc_curve(y_true: Sequence[int] | np.ndarray, y_score: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(fpr, tpr, thresholds)`` at every distinct score, thresholds descending from +inf.

    A rate is NaN when its class is absent.
    """
    labels, scores = _as_binary_arrays(y_true, y_score)
    order = np.argsort(-scores, kind="stable")
    desc_scores, desc_labels = scores[order], labels[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(desc_scores) != 0), desc_scores.size - 1] if scores.size else np.zeros(0, int)
    tps = np.cumsum(desc_labels)[last_of_group]
    fps = (last_of_group + 1) - tps
    tpr = _safe_ratio(np.r_[0, tps].astype(np.float64), np.float64(labels.sum()))
    fpr = _safe_ratio(np.r_[0, fps].astype(np.float64), np.float64(labels.size - labels.sum()))
    return fpr, tpr, np.r_[np.inf, desc_scores[last_of_group]]


def _probability_bins(y_prob: np.ndarray, n_bins: int) -> np.ndarray:
    """Return the equal-width bin (0..n_bins-1) of each probability; a value on an edge goes to the lower bin."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if ((y_prob < 0) | (y_prob > 1)).any():
        raise ValueError("probabilities must lie in [0, 1]")
    return np.searchsorted(np.linspace(0.0, 1.0, n_bins + 1)[1:-1], y_prob)


def reliability_curve(
    y_true: Sequence[int] | np.ndarray, y_prob: Sequence[float] | np.ndarray, *, n_bins: int = 10
) -> dict[str, np.ndarray]:
    """Return per non-empty equal-width bin: ``mean_predicted``, ``fraction_positive`` and ``count``."""
    labels, probs = _as_binary_arrays(y_true, y_prob)
    bins = _probability_bins(probs, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    filled = count > 0
    return {
        "mean_predicted": np.bincount(bins, weights=probs, minlength=n_bins)[filled] / count[filled],
        "fraction_positive": np.bincount(bins, weights=labels, minlength=n_bins)[filled] / count[filled],
        "count": count[filled],
    }


def expected_calibration_error(
    y_true: Sequence[int] | np.ndarray, y_prob: Sequence[float] | np.ndarray, n_bins: int = 10
) -> float | None:
    """Return the ECE of positive-class probabilities: sum over bins of |fraction positive - mean prob| x bin share."""
    curve = reliability_curve(y_true, y_prob, n_bins=n_bins)
    total = curve["count"].sum()
    if total == 0:
        return None
    gaps = np.abs(curve["fraction_positive"] - curve["mean_predicted"])
    return float((gaps * curve["count"]).sum() / total)


def binned_bootstrap_metrics(
    y_true: Sequence[int] | np.ndarray,
    y_score: Sequence[float] | np.ndarray,
    threshold: float = 0.5,
    n_boot: int = 10000,
    seed: int = 0,
    *,
    max_bins: int = 128,
) -> dict[str, Any]:
    """Return :func:`binary_metrics` with CIs bootstrapped from a score-bin x class table, in O(n_boot x bins).

    Point values and the confusion matrix are exact (``binary_metrics(..., n_boot=0)``).

    Notes
    -----
    Cases sorted by score are cut into at most ``max_bins`` bins, only between distinct
    scores and always at ``threshold``. Resampling ``n`` cases with replacement is drawing
    one multinomial over the (bin, class) cells, so accuracy, sensitivity, specificity,
    PPV, NPV and F1 have exactly the case-bootstrap distribution. For the AUC, pairs in
    different bins are counted exactly and pairs inside a bin take their exact expectation
    given the bin's resampled counts: exact when there are at most ``max_bins`` distinct
    scores, otherwise slightly less variable (about 1/``max_bins`` of pairs share a bin).
    """
    if max_bins < 1:
        raise ValueError(f"max_bins must be >= 1, got {max_bins}")
    labels, scores = _as_binary_arrays(y_true, y_score)
    result = binary_metrics(labels, scores, threshold=threshold, n_boot=0)
    n_cases = labels.size
    if n_boot <= 0 or n_cases == 0:
        return result
    order = np.argsort(scores, kind="stable")
    sorted_scores, positive = scores[order], labels[order].astype(np.float64)
    group_starts = np.flatnonzero(np.r_[True, np.diff(sorted_scores) != 0])
    wanted = np.linspace(0, n_cases, max_bins + 1)[1:-1]
    snapped = group_starts[np.minimum(np.searchsorted(group_starts, wanted), group_starts.size - 1)]
    edges = np.unique(np.r_[0, snapped, np.searchsorted(sorted_scores, threshold, side="left")])
    edges = edges[edges < n_cases]
    group_bin = np.searchsorted(edges, group_starts, side="right") - 1
    group_pos = np.add.reduceat(positive, group_starts)
    group_neg = np.add.reduceat(1 - positive, group_starts)
    neg_before = np.cumsum(group_neg) - group_neg
    neg_below_in_bin = neg_before - neg_before[np.searchsorted(group_bin, group_bin)]
    n_bins = edges.size
    pos_bin = np.bincount(group_bin, weights=group_pos, minlength=n_bins)
    neg_bin = np.bincount(group_bin, weights=group_neg, minlength=n_bins)
    within_wins = np.bincount(group_bin, weights=group_pos * (neg_below_in_bin + 0.5 * group_neg), minlength=n_bins)
    within_rate = _safe_ratio(within_wins, pos_bin * neg_bin)
    within_rate = np.where(np.isnan(within_rate), 0.0, within_rate)
    predicted = sorted_scores[edges] >= threshold

    counts = np.random.default_rng(seed).multinomial(n_cases, np.r_[pos_bin, neg_bin] / n_cases, size=n_boot)
    pos_counts, neg_counts = counts[:, :n_bins].astype(np.float64), counts[:, n_bins:].astype(np.float64)
    tp, fn = pos_counts[:, predicted].sum(axis=1), pos_counts[:, ~predicted].sum(axis=1)
    fp, tn = neg_counts[:, predicted].sum(axis=1), neg_counts[:, ~predicted].sum(axis=1)
    neg_below = np.cumsum(neg_counts, axis=1) - neg_counts
    wins = (pos_counts * (neg_below + neg_counts * within_rate)).sum(axis=1)
    samples = _confusion_metrics(tp=tp, fn=fn, fp=fp, tn=tn) | {"auc": _safe_ratio(wins, (tp + fn) * (fp + tn))}
    for name in METRIC_NAMES:
        result[name]["ci95"] = _percentile_interval(samples[name])
    return result


def _layout_order(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Return the case indices in :class:`_SortedCases` layout: negatives by score (stable), then positives."""
    negatives, positives = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    return np.r_[negatives[np.argsort(scores[negatives], kind="stable")], positives]


def paired_comparison(
    y_true: Sequence[int] | np.ndarray,
    score_a: Sequence[float] | np.ndarray,
    score_b: Sequence[float] | np.ndarray,
    threshold: float = 0.5,
    n_boot: int = 10000,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare two models scored on the same cases: each one's metrics and B − A with a paired bootstrap CI.

    Each resample draws cases once and scores both models on that same draw, so the interval of a
    difference reflects only how the models disagree, not two independent samplings.

    Returns
    -------
    ``{"n", "threshold", "a": binary_metrics(a), "b": binary_metrics(b), "difference": {metric: {"value",
    "ci95"}}, "kappa": Cohen's kappa of the two models' labels at ``threshold``, "disagreements": case
    indices where exactly one model calls positive}``.
    """
    labels, scores_a = _as_binary_arrays(y_true, score_a)
    _, scores_b = _as_binary_arrays(y_true, score_b)
    cases_a = _SortedCases.from_arrays(labels, scores_a, threshold)
    cases_b = _SortedCases.from_arrays(labels, scores_b, threshold)
    order_a, order_b = _layout_order(labels, scores_a), _layout_order(labels, scores_b)

    def difference(counts: np.ndarray) -> dict[str, np.ndarray]:
        a, b = cases_a.metrics(counts[:, order_a]), cases_b.metrics(counts[:, order_b])
        return {name: b[name] - a[name] for name in METRIC_NAMES}

    point = difference(np.ones((1, labels.size), np.float32))
    samples = _bootstrap_samples(labels.size, n_boot=n_boot, seed=seed, statistic=difference)
    called_a, called_b = scores_a >= threshold, scores_b >= threshold
    return {
        "n": int(labels.size), "threshold": float(threshold),
        "a": binary_metrics(labels, scores_a, threshold=threshold, n_boot=n_boot, seed=seed),
        "b": binary_metrics(labels, scores_b, threshold=threshold, n_boot=n_boot, seed=seed),
        "difference": {name: {"value": _none_if_nan(float(point[name][0])), "ci95": _percentile_interval(samples.get(name))}
                       for name in METRIC_NAMES},
        "kappa": cohen_kappa(called_a, called_b),
        "disagreements": np.flatnonzero(called_a != called_b).tolist(),
    }
