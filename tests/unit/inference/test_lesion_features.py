"""Tests of inference.lesion_features: per-slice features follow the lesions the quantification found."""

from __future__ import annotations

import numpy as np
import pytest

from inference.lesion_features import FEATURE_NAMES, slice_features
from inference.phantom import make_phantom_volume
from inference.quantify import quantify_volume


@pytest.fixture(scope="module")
def phantom() -> tuple[np.ndarray, tuple[float, float, float], object, object]:
    hu, spacing_mm, masks, _ = make_phantom_volume(slices=24, size_px=96, severity="moderate", seed=5)
    return hu, spacing_mm, masks, quantify_volume(hu, spacing_mm=spacing_mm)


def column(features: np.ndarray, name: str) -> np.ndarray:
    return features[:, FEATURE_NAMES.index(name)]


def test_slice_features__lesion_slices_score_higher_than_clean_lung_slices(phantom):
    hu, spacing_mm, masks, quantification = phantom
    lung = (masks.lung_left | masks.lung_right).sum(axis=(1, 2))
    truth = (masks.ggo | masks.consolidation).sum(axis=(1, 2))
    indices = np.flatnonzero(lung > 0.5 * lung.max())
    features = slice_features(hu, quantification=quantification, spacing_mm=spacing_mm, indices=indices)
    assert features.shape == (indices.size, len(FEATURE_NAMES)) and features.dtype == np.float32
    with_lesion = truth[indices] > 0.02 * lung[indices]
    assert with_lesion.any() and (~with_lesion).any()
    assert column(features, "lesion")[with_lesion].mean() > column(features, "lesion")[~with_lesion].mean() + 0.5
    assert column(features, "band_ggo")[with_lesion].mean() > column(features, "band_ggo")[~with_lesion].mean()
    assert np.all(column(features, "lesion_min_side") <= column(features, "lesion_max_side"))
    assert np.all((column(features, "lung_area") > 0) & (column(features, "lung_area") <= 1))


def test_slice_features__a_slice_without_lung_reads_as_empty_air(phantom):
    hu, spacing_mm, masks, quantification = phantom
    empty = np.flatnonzero(~quantification.lungs.both.any(axis=(1, 2)))
    assert empty.size
    features = slice_features(hu, quantification=quantification, spacing_mm=spacing_mm, indices=empty[:1])
    assert column(features, "lesion")[0] == 0 and column(features, "lung_area")[0] == 0
    assert column(features, "hu_p50")[0] == pytest.approx(-1.0)
