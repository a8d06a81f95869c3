"""Tests of inference.classify (calibrated slice probabilities) and of the worker's study classification."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from inference.aggregate import study_probability
from inference.analysis import classify_slices, score_study
from inference.classify import predict_slice_probabilities
from inference.preprocess import plan_study
from inference.registry import load_model


def test_predict_slice_probabilities__applies_card_temperature(published_tiny):
    loaded = load_model(root=published_tiny)
    size = loaded.card["input_size_px"]
    slices = np.random.default_rng(0).integers(0, 256, (3, size, size)).astype(np.uint8)
    raw = np.asarray(loaded.model.predict(slices[..., np.newaxis], verbose=0), dtype=np.float64)
    expected = special.softmax(np.log(raw) / loaded.temperature, axis=-1)
    np.testing.assert_allclose(predict_slice_probabilities(loaded, slices), expected, rtol=1e-4, atol=1e-6)


def test_score_study__aggregates_lung_slices_to_study_probability(published_tiny):
    loaded = load_model(root=published_tiny)
    volume = np.full((6, 48, 48), -1000.0, np.float32)
    volume[:, 8:40, 8:40] = 40.0
    volume[:4, 14:34, 14:34] = -850.0  # lungs only in the first four slices
    plan = plan_study(volume)
    scores = score_study(classify_slices(volume, plan, loaded=loaded, batch_size=8), loaded=loaded)
    assert plan.slice_indices.tolist() == [0, 1, 2, 3]
    assert scores.slice_probabilities.shape == (4, 2)
    assert scores.covid_probability == pytest.approx(study_probability(scores.slice_probabilities[:, 0], top_k=5))
