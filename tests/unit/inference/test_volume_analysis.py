"""Tests of the 3D path: analyse_volume dispatch on a volume card, volume Grad-CAM, key-slice choice."""

from __future__ import annotations

import numpy as np
import pytest

from inference.analysis import analyse_volume
from inference.dicom_io import read_series
from inference.explain.gradcam_volume import gradcam_volume
from inference.phantom import write_phantom_series
from inference.registry import LoadedModel
from inference.volume_analysis import key_model_slices
from inference.volume_preprocess import VolumeGeometry, prepare_volume

GEOMETRY = VolumeGeometry(16, 64, 48)


@pytest.fixture(scope="module")
def volume_model():
    from inference.models.covidnet3d import build_volume_model

    import keras

    keras.utils.set_random_seed(4)
    card = {"name": "t3d", "version": "v", "kind": "volume", "variant": "shallow", "input_size_px": 48,
            "input_geometry": {"slices": 16, "resize_px": 64, "crop_px": 48}, "class_names": ["covid", "non-covid"],
            "positive_class": "covid", "calibration": {"temperature": 2.0}}
    return LoadedModel(build_volume_model("shallow", geometry=GEOMETRY), card, None)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def phantom_volume(tmp_path_factory):
    folder = tmp_path_factory.mktemp("series")
    write_phantom_series(folder, slices=20, size_px=64, severity="moderate", seed=3)
    return read_series(sorted(folder.glob("*.dcm")))


def test_gradcam_volume__heat_on_the_input_grid_and_the_models_probability(volume_model, phantom_volume):
    model_input = prepare_volume(phantom_volume.hu, geometry=GEOMETRY)
    heat, probability = gradcam_volume(volume_model.model, model_input)
    assert heat.shape == model_input.shape and heat.min() >= 0.0 and heat.max() == pytest.approx(1.0)
    expected = float(volume_model.model.predict(model_input[None, ..., None], verbose=0)[0, 0])
    assert probability == pytest.approx(expected, rel=1e-5)


def test_analyse_volume__volume_card_takes_the_3d_path(volume_model, phantom_volume):
    analysis = analyse_volume(phantom_volume, loaded=volume_model, key_slices=3)
    p = analysis.covid_probability_uncalibrated
    logit = np.log(p) - np.log1p(-p)
    assert analysis.covid_probability == pytest.approx(1 / (1 + np.exp(-logit / 2.0)), rel=1e-6)  # temperature 2
    assert sum(analysis.class_probabilities.values()) == pytest.approx(1.0)
    assert analysis.slice_scores == []  # a volume model scores the study, not slices
    assert 1 <= len(analysis.key_slice_indices) <= 3 and len(set(analysis.key_slice_indices)) == len(analysis.key_slice_indices)
    assert all(0 <= i < phantom_volume.hu.shape[0] for i in analysis.key_slice_indices)
    gradcams = [o for o in analysis.overlays if o.kind == "gradcam"]
    assert [o.slice_index for o in gradcams] == analysis.key_slice_indices
    assert (gradcams[0].width_px, gradcams[0].height_px) == (64, 64)
    assert set(analysis.stage_seconds) == {"classify", "aggregate", "quantify", "explain"}
    assert analysis.quantification.lesion_total_ml > 0


def test_key_model_slices__hottest_first_one_per_source_slice_and_no_cold_slices():
    heat = np.zeros((4, 2, 2), np.float32)
    heat[2], heat[3], heat[0] = 1.0, 0.9, 0.5  # model slice 1 has no heat
    # 4 model slices over 7 source slices: model slice m -> source slice 2m
    assert key_model_slices(heat, source_slices=7, k=5) == [(2, 4), (3, 6), (0, 0)]
    assert key_model_slices(heat, source_slices=7, k=1) == [(2, 4)]
    # 4 model slices onto 2 source slices: 2 and 3 both map to source 1, only the hotter is kept
    assert key_model_slices(heat, source_slices=2, k=5) == [(2, 1), (0, 0)]
