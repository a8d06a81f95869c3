"""Tests of inference.pipeline: calibrated slice probabilities and study classification."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from inference.aggregate import study_probability
from inference.pipeline import classify_volume, predict_slice_probabilities
from inference.registry import load_model


def test_predict_slice_probabilities__applies_card_temperature(published_tiny):
    loaded = load_model(root=published_tiny)
    size = loaded.card["input_size_px"]
    slices = np.random.default_rng(0).integers(0, 256, (3, size, size)).astype(np.uint8)
    raw = np.asarray(loaded.model.predict(slices[..., np.newaxis], verbose=0), dtype=np.float64)
    expected = special.softmax(np.log(raw) / loaded.temperature, axis=-1)
    np.testing.assert_allclose(predict_slice_probabilities(loaded, slices), expected, rtol=1e-4, atol=1e-6)


def test_classify_volume__aggregates_lung_slices_to_study_probability(published_tiny):
    loaded = load_model(root=published_tiny)
    volume = np.full((6, 48, 48), -1000.0, np.float32)
    volume[:, 8:40, 8:40] = 40.0
    volume[:4, 14:34, 14:34] = -850.0  # lungs only in the first four slices
    prediction = classify_volume(volume, loaded=loaded)
    assert prediction.slice_indices.tolist() == [0, 1, 2, 3]
    assert prediction.slice_probabilities.shape == (4, 2)
    assert prediction.covid_probability == pytest.approx(study_probability(prediction.slice_probabilities[:, 0], top_k=5))
