"""Tests of inference.aggregate: study rule and temperature scaling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from inference.aggregate import apply_temperature, fit_temperature, logits_from_probabilities, study_probability


def test_study_probability__averages_top_k_slices():
    assert study_probability(np.array([0.1, 0.9, 0.5, 0.7, 0.2]), top_k=3) == pytest.approx((0.9 + 0.7 + 0.5) / 3)


def test_study_probability__uses_all_slices_when_fewer_than_k():
    assert study_probability(np.array([0.2, 0.4]), top_k=5) == pytest.approx(0.3)


@pytest.mark.parametrize("values, top_k", [(np.array([]), 1), (np.array([0.5]), 0)])
def test_study_probability__rejects_bad_input(values, top_k):
    with pytest.raises(ValueError):
        study_probability(values, top_k=top_k)


def test_apply_temperature__divides_logits_before_softmax():
    logits = np.array([[2.0, 0.0]])
    expected = 1 / (1 + np.exp(-1.0))  # softmax([1, 0])[0]
    assert apply_temperature(logits, temperature=2.0)[0, 0] == pytest.approx(expected)


def test_logits_from_probabilities__preserve_softmax_under_temperature():
    logits = np.array([[1.5, -0.5, 0.3]])
    probabilities = special.softmax(logits, axis=-1)
    np.testing.assert_allclose(
        apply_temperature(logits_from_probabilities(probabilities), temperature=1.7), apply_temperature(logits, temperature=1.7)
    )


def test_fit_temperature__recovers_overconfidence_factor():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 2)) * 2.0
    labels = np.array([rng.choice(2, p=p) for p in special.softmax(true_logits, axis=-1)])
    assert fit_temperature(true_logits * 3.0, labels) == pytest.approx(3.0, rel=0.1)


def test_fit_temperature__rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="matching"):
        fit_temperature(np.zeros((3, 2)), np.zeros(4, int))
