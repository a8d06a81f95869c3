"""Combine slice probabilities into a study probability and calibrate them by temperature scaling.

Study rule (``STUDY_RULE``): the study's COVID-19 probability is the mean of the
``top_k`` highest calibrated slice COVID-19 probabilities among the lung slices
chosen by :func:`inference.preprocess.select_lung_slices` (all of them if fewer
than ``top_k``). A few strongly positive slices mark a study positive, as a
reader would, while averaging damps single-slice noise.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

STUDY_RULE = "mean of the top-k calibrated slice COVID-19 probabilities over lung slices"
DEFAULT_TOP_K = 5
_LOG_TEMPERATURE_BOUNDS = (-4.0, 4.0)
_MIN_PROBABILITY = 1e-7


def logits_from_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Return log-probabilities, usable as logits: softmax(log p / T) equals softmax(z / T) for p = softmax(z)."""
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), _MIN_PROBABILITY, 1.0))


def apply_temperature(logits: np.ndarray, *, temperature: float) -> np.ndarray:
    """Return softmax(logits / temperature) along the last axis (float64, rows sum to 1)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    return special.softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=-1)


def calibrate_probabilities(probabilities: np.ndarray, *, temperature: float) -> np.ndarray:
    """Return softmax probabilities rescaled by ``temperature`` (the model card's calibration)."""
    return apply_temperature(logits_from_probabilities(probabilities), temperature=temperature)


def _negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    log_probs = special.log_softmax(logits / temperature, axis=-1)
    return float(-log_probs[np.arange(labels.size), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fit the temperature T > 0 minimising the NLL of softmax(logits / T) on validation cases.

    Parameters
    ----------
    logits : (n, classes) validation logits (or log-probabilities).
    labels : (n,) integer class indices.

    Returns
    -------
    T in [e^-4, e^4]; T > 1 softens over-confident models.
    """
    logit_array = np.asarray(logits, dtype=np.float64)
    label_array = np.asarray(labels).astype(np.int64)
    if logit_array.ndim != 2 or logit_array.shape[0] != label_array.size:
        raise ValueError(f"logits must be (n, classes) matching {label_array.size} labels, got {logit_array.shape}")
    if label_array.size == 0:
        raise ValueError("cannot fit a temperature on zero cases")
    fit = optimize.minimize_scalar(
        lambda log_t: _negative_log_likelihood(logit_array, label_array, float(np.exp(log_t))),
        bounds=_LOG_TEMPERATURE_BOUNDS,
        method="bounded",
    )
    return float(np.exp(fit.x))


def study_probability(slice_probabilities: np.ndarray, *, top_k: int = DEFAULT_TOP_K) -> float:
    """Return the mean of the ``top_k`` largest slice probabilities (all slices if fewer).

    Parameters
    ----------
    slice_probabilities : (n,) positive-class probability of each lung slice.
    top_k : number of highest slices averaged, >= 1.
    """
    values = np.asarray(slice_probabilities, dtype=np.float64).ravel()
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if values.size == 0:
        raise ValueError("a study needs at least one slice probability")
    k = min(top_k, values.size)
    return float(np.partition(values, values.size - k)[values.size - k:].mean())
