"""Classify slices and whole CT studies with a loaded model (no Django, Keras only through the model)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference.aggregate import calibrate_probabilities
from inference.preprocess import plan_study
from inference.registry import LoadedModel


def predict_slice_probabilities(loaded: LoadedModel, slices_uint8: np.ndarray, *, batch_size: int = 8) -> np.ndarray:
    """Return calibrated class probabilities ``(n, classes)`` for uint8 slices ``(n, s, s)``.

    The model's softmax output is rescaled with the card's temperature (1.0 when uncalibrated).
    """
    raw = loaded.model.predict(np.asarray(slices_uint8)[..., np.newaxis], batch_size=batch_size, verbose=0)
    return calibrate_probabilities(raw, temperature=loaded.temperature)


@dataclass(frozen=True)
class StudyPrediction:
    """Result of classifying one study.

    Attributes
    ----------
    covid_probability : study-level calibrated COVID-19 probability (0-1), see :mod:`inference.aggregate`.
    slice_indices : (n,) z index of each classified lung slice in the source volume.
    slice_probabilities : (n, classes) calibrated probabilities of those slices.
    class_names : class order of ``slice_probabilities``.
    """

    covid_probability: float
    slice_indices: np.ndarray
    slice_probabilities: np.ndarray
    class_names: tuple[str, ...]


def classify_volume(volume_hu: np.ndarray, *, loaded: LoadedModel, batch_size: int = 8) -> StudyPrediction:
    """Preprocess a HU volume ``(z, y, x)``, classify its lung slices and aggregate them to a study probability.

    The same classification and study rule as the worker's :func:`inference.analysis.analyse_volume`.
    """
    from inference.analysis import classify_slices, score_study

    plan = plan_study(volume_hu)
    scores = score_study(classify_slices(volume_hu, plan, loaded=loaded, batch_size=batch_size), loaded=loaded)
    return StudyPrediction(scores.covid_probability, plan.slice_indices, scores.slice_probabilities,
                           tuple(loaded.card["class_names"]))
