"""Tests of inference.models: parameter budgets, layer contract, uint8 input, analytic FLOPs."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from inference.models import FEATURES_LAYER, LOGITS_LAYER, PROBABILITIES_LAYER, build_model
from inference.models.flops import layer_flops, model_flops


@pytest.mark.parametrize("variant, paper_params", [("s", 450_000), ("l", 1_400_000)])
def test_build_model__params_within_15_percent_of_paper(variant, paper_params):
    params = build_model(variant, input_size_px=64, num_classes=3).count_params()
    assert abs(params - paper_params) <= 0.15 * paper_params


def test_build_model__exposes_features_logits_and_probabilities_layers():
    model = build_model("s", input_size_px=64, num_classes=2)
    assert model.layers[-1].name == PROBABILITIES_LAYER
    features = model.get_layer(FEATURES_LAYER).output
    assert len(features.shape) == 4 and features.shape[1:3] == (2, 2)  # 64 / 32
    assert model.get_layer(LOGITS_LAYER).output.shape[-1] == 2


def test_build_model__accepts_uint8_values_and_returns_probabilities():
    model = build_model("s", input_size_px=32, num_classes=3)
    slices = np.random.default_rng(0).integers(0, 256, size=(2, 32, 32, 1)).astype(np.uint8)
    probabilities = np.asarray(model.predict(slices, verbose=0))
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_build_model__normalises_inside_the_model():
    model = build_model("s", input_size_px=32, num_classes=2)
    assert isinstance(model.get_layer("to_unit_range"), keras.layers.Rescaling)
    assert model.get_layer("to_unit_range").scale == pytest.approx(1 / 255)


def test_build_model__rejects_unknown_variant_and_single_class():
    with pytest.raises(ValueError, match="unknown variant"):
        build_model("xl")
    with pytest.raises(ValueError, match="num_classes"):
        build_model("s", input_size_px=32, num_classes=1)


def test_layer_flops__counts_conv_depthwise_and_dense_by_hand():
    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    depthwise = keras.layers.DepthwiseConv2D(3, strides=2, padding="same")(conv)
    dense = keras.layers.Dense(5)(keras.layers.Flatten()(depthwise))
    model = keras.Model(inputs, dense)
    conv_layer, depthwise_layer, dense_layer = model.layers[1], model.layers[2], model.layers[4]
    assert layer_flops(conv_layer) == 2 * 8 * 8 * 4 * 3 * 3 * 3
    assert layer_flops(depthwise_layer) == 2 * 4 * 4 * 4 * 3 * 3
    assert layer_flops(dense_layer) == 2 * 64 * 5
    assert model_flops(model) == 2 * (8 * 8 * 4 * 27 + 4 * 4 * 4 * 9 + 64 * 5)


def test_model_flops__grow_with_input_area():
    small, large = (model_flops(build_model("s", input_size_px=size, num_classes=2)) for size in (64, 128))
    assert 3.5 < large / small < 4.1



def test_build_model__takes_uint8_slices_and_keeps_probabilities_float32():
    model = build_model("s", input_size_px=32, num_classes=2)
    assert model.inputs[0].dtype == "uint8"
    out = model.predict_on_batch(np.full((2, 32, 32, 1), 200, np.uint8))
    assert out.dtype == np.float32 and np.allclose(out.sum(axis=1), 1.0, atol=1e-5)


def test_configure_precision__stays_float32_without_a_gpu():
    from inference.device import configure_precision, gpu_available

    if gpu_available():
        pytest.skip("a GPU is visible: mixed precision is the expected policy here")
    assert configure_precision() == "float32"
