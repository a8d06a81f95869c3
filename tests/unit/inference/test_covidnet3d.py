"""Tests of inference.models.covidnet3d: instance-norm maths, shapes, parameter counts, JAX backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference.models import FEATURES_LAYER, PROBABILITIES_LAYER
from inference.models.covidnet3d import VOLUME_VARIANTS, DenseNet3DSpec, InstanceNormalization, build_volume_model
from inference.volume_preprocess import VolumeGeometry

REPO_ROOT = Path(__file__).resolve().parents[3]
TINY = VolumeGeometry(8, 32, 24)


def expected_params(spec: DenseNet3DSpec) -> int:
    """Count the weights of the architecture by hand: convs have no bias, each norm has gamma and beta."""
    k, bottleneck = spec.growth, spec.bottleneck_factor * spec.growth
    total = 7**3 * spec.stem_channels + 2 * spec.stem_channels
    channels = spec.stem_channels
    for index, units in enumerate(spec.block_units):
        for _ in range(units):
            total += 2 * channels + channels * bottleneck + 2 * bottleneck + 27 * bottleneck * k
            channels += k
        if index < 3:
            kept = int(channels * spec.compression)
            total += 2 * channels + channels * kept
            channels = kept
    return total + channels + 1  # the one-logit dense layer


def test_instance_normalization__matches_numpy_per_sample_and_channel():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(2, 4, 5, 6, 3)).astype(np.float32)
    layer = InstanceNormalization()
    layer.build(x.shape)
    layer.gamma.assign(np.array([1.0, 2.0, 0.5], np.float32))
    layer.beta.assign(np.array([0.0, -1.0, 3.0], np.float32))
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    variance = x.var(axis=(1, 2, 3), keepdims=True)
    expected = (x - mean) / np.sqrt(variance + 1e-5) * np.array([1.0, 2.0, 0.5]) + np.array([0.0, -1.0, 3.0])
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-4, atol=1e-4)


def test_instance_normalization__ignores_other_samples_in_the_batch():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(1, 3, 4, 4, 2)), rng.normal(10, 5, size=(1, 3, 4, 4, 2))
    layer = InstanceNormalization()
    alone = np.asarray(layer(a.astype(np.float32)))
    together = np.asarray(layer(np.concatenate([a, b]).astype(np.float32)))
    np.testing.assert_allclose(together[:1], alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", sorted(VOLUME_VARIANTS))
def test_build_volume_model__parameter_count_matches_the_architecture(variant):
    spec = VOLUME_VARIANTS[variant]
    model = build_volume_model(variant, geometry=VolumeGeometry(16, 32, 32))
    assert model.count_params() == expected_params(spec)


def test_build_volume_model__densenet264_has_the_papers_block_sizes_and_40_million_weights():
    assert VOLUME_VARIANTS["densenet264"].block_units == (6, 12, 64, 48)
    assert expected_params(VOLUME_VARIANTS["densenet264"]) == 40_243_201


def test_build_volume_model__shapes_and_sigmoid_output():
    model = build_volume_model("shallow", geometry=TINY)
    assert model.input_shape == (None, 8, 24, 24, 1)
    # stem /2 in z, /4 in-plane; three transitions /2 each: (8/16 -> 1, 24/32 -> 1) with "same" padding
    assert model.get_layer(FEATURES_LAYER).output.shape[1:4] == (1, 1, 1)
    volumes = np.random.default_rng(0).random((3, *TINY.input_shape), dtype=np.float32)
    probabilities = np.asarray(model.predict(volumes, verbose=0))
    assert probabilities.shape == (3, 1) and np.all((probabilities > 0) & (probabilities < 1))
    assert model.get_layer(PROBABILITIES_LAYER).dtype_policy.compute_dtype == "float32"


def test_build_volume_model__rejects_unknown_variant():
    with pytest.raises(ValueError, match="unknown 3D variant 'huge'"):
        build_volume_model("huge", geometry=TINY)


@pytest.mark.slow
def test_build_volume_model__jax_backend_gives_the_tensorflow_outputs(tmp_path):
    pytest.importorskip("jax")
    model = build_volume_model("shallow", geometry=TINY)
    volumes = np.random.default_rng(2).random((2, *TINY.input_shape), dtype=np.float32)
    weights = tmp_path / "shallow.weights.h5"
    model.save_weights(weights)
    np.save(tmp_path / "volumes.npy", volumes)
    script = (
        "import json, sys, numpy as np, keras\n"
        "from inference.models.covidnet3d import build_volume_model\n"
        "from inference.volume_preprocess import VolumeGeometry\n"
        "m = build_volume_model('shallow', geometry=VolumeGeometry(8, 32, 24))\n"
        f"m.load_weights({str(weights)!r})\n"
        f"p = np.asarray(m.predict(np.load({str(tmp_path / 'volumes.npy')!r}), verbose=0))\n"
        "print(json.dumps({'backend': keras.backend.backend(), 'p': p.ravel().tolist()}))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO_ROOT), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["backend"] == "jax"
    np.testing.assert_allclose(answer["p"], np.asarray(model.predict(volumes, verbose=0)).ravel(), rtol=1e-4, atol=1e-5)


def test_build_volume_model__mixed_precision_keeps_norm_statistics_and_output_in_float32():
    """Under mixed_float16 (a GPU's policy; TF on CPU lacks float16 3D pooling, so no forward pass here)."""
    import keras

    x = np.random.default_rng(5).normal(100.0, 3.0, size=(1, 6, 8, 8, 2)).astype(np.float32)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_volume_model("shallow", geometry=TINY)
        norm = InstanceNormalization()
        normalised = np.asarray(norm(x.astype(np.float16)))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("block1_u0_1_conv").compute_dtype == "float16"
    assert model.get_layer(PROBABILITIES_LAYER).compute_dtype == "float32"
    # Statistics in float32: the error left is the float16 input rounding (0.06 at 100, i.e. 0.02 sd).
    expected = (x - x.mean(axis=(1, 2, 3), keepdims=True)) / np.sqrt(x.var(axis=(1, 2, 3), keepdims=True) + 1e-5)
    assert normalised.dtype == np.float16
    np.testing.assert_allclose(normalised.astype(np.float32), expected, atol=0.02)
