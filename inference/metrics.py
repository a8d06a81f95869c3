"""Diagnostic accuracy metrics with vectorised bootstrap confidence intervals.

Positive class = COVID-19 (label 1). Undefined values (e.g. sensitivity with no
positives) are ``None``, never a crash and never NaN in returned dictionaries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

METRIC_NAMES = ("auc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "f1")
_BOOTSTRAP_CHUNK = 500


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


def _weighted_auc(weights_sorted: np.ndarray, positive_sorted: np.ndarray, group_starts: np.ndarray) -> np.ndarray:
    """Return the AUC per row of case weights given in ascending-score order (ties share ``group_starts``)."""
    pos_weight = np.add.reduceat(weights_sorted * positive_sorted, group_starts, axis=1)
    neg_weight = np.add.reduceat(weights_sorted * (1 - positive_sorted), group_starts, axis=1)
    neg_below = np.cumsum(neg_weight, axis=1) - neg_weight
    wins = (pos_weight * (neg_below + 0.5 * neg_weight)).sum(axis=1)
    return _safe_ratio(wins, pos_weight.sum(axis=1) * neg_weight.sum(axis=1))


def _weighted_metrics(
    weights_sorted: np.ndarray, positive_sorted: np.ndarray, predicted_sorted: np.ndarray, group_starts: np.ndarray
) -> dict[str, np.ndarray]:
    """Compute every metric for each row of case weights (rows = resamples, columns = cases sorted by score)."""
    tp = weights_sorted @ (positive_sorted * predicted_sorted)
    fn = weights_sorted @ (positive_sorted * (1 - predicted_sorted))
    fp = weights_sorted @ ((1 - positive_sorted) * predicted_sorted)
    tn = weights_sorted @ ((1 - positive_sorted) * (1 - predicted_sorted))
    return {
        "auc": _weighted_auc(weights_sorted, positive_sorted, group_starts),
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
    Resamples are drawn in chunks as case-count matrices; with cases sorted once by
    score, the AUC of every resample is the weighted Mann-Whitney statistic
    (ties count one half), so no per-resample sort or Python loop over resamples runs.
    """
    labels, scores = _as_binary_arrays(y_true, y_score)
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    positive = labels[order].astype(np.float64)
    predicted = (sorted_scores >= threshold).astype(np.float64)
    group_starts = np.flatnonzero(np.r_[True, np.diff(sorted_scores) != 0]) if scores.size else np.zeros(0, np.int64)
    n_cases = labels.size

    point = {name: float(values[0]) for name, values in _weighted_metrics(
        np.ones((1, n_cases)), positive, predicted, group_starts).items()} if n_cases else dict.fromkeys(METRIC_NAMES, np.nan)
    samples = _bootstrap_samples(n_cases, n_boot=n_boot, seed=seed, statistic=lambda w: _weighted_metrics(
        w, positive, predicted, group_starts))

    tp = int(((labels == 1) & (scores >= threshold)).sum())
    fn = int(((labels == 1) & (scores < threshold)).sum())
    fp = int(((labels == 0) & (scores >= threshold)).sum())
    tn = int(((labels == 0) & (scores < threshold)).sum())
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
    for start in range(0, n_boot, _BOOTSTRAP_CHUNK):
        rows = min(_BOOTSTRAP_CHUNK, n_boot - start)
        picks = rng.integers(0, n_cases, size=(rows, n_cases)) + (np.arange(rows) * n_cases)[:, np.newaxis]
        counts = np.bincount(picks.ravel(), minlength=rows * n_cases).reshape(rows, n_cases).astype(np.float64)
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
