"""Classify slices and whole CT studies with a loaded model (no Django, Keras only through the model)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference.aggregate import DEFAULT_TOP_K, apply_temperature, logits_from_probabilities, study_probability
from inference.preprocess import preprocess_study
from inference.registry import LoadedModel


def predict_slice_probabilities(loaded: LoadedModel, slices_uint8: np.ndarray, *, batch_size: int = 8) -> np.ndarray:
    """Return calibrated class probabilities ``(n, classes)`` for uint8 slices ``(n, s, s)``.

    The model's softmax output is rescaled with the card's temperature (1.0 when uncalibrated).
    """
    raw = loaded.model.predict(np.asarray(slices_uint8)[..., np.newaxis], batch_size=batch_size, verbose=0)
    return apply_temperature(logits_from_probabilities(raw), temperature=loaded.temperature)


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
    """Preprocess a HU volume ``(z, y, x)``, classify its lung slices and aggregate them to a study probability."""
    study = preprocess_study(volume_hu, size_px=int(loaded.card["input_size_px"]))
    probabilities = predict_slice_probabilities(loaded, study.slices_uint8, batch_size=batch_size)
    top_k = int(loaded.card.get("aggregation", {}).get("top_k", DEFAULT_TOP_K))
    covid = study_probability(probabilities[:, loaded.positive_index], top_k=top_k)
    return StudyPrediction(covid, study.slice_indices, probabilities, tuple(loaded.card["class_names"]))
