"""COVIDNet 3D: a DenseNet-style 3D CT classifier with instance normalisation (Sci Rep 2020, Methods).

Four dense blocks; each unit is two stacks of instance norm → ReLU → convolution (1³ bottleneck of
``4 × growth`` channels, then 3³ of ``growth``), and its output is concatenated to everything before
it in the block. Transitions (instance norm → ReLU → 1³ conv halving the channels → 2³ average pool)
join the blocks. A sigmoid output trained with binary cross-entropy gives P(COVID-19).

Only ``keras.layers`` and ``keras.ops`` are used (instance norm included), so the model runs on the
TensorFlow, JAX and PyTorch backends. Layer names follow the slice models' contract
(:mod:`inference.models`): ``features`` (last feature map, for Grad-CAM), ``logits``, ``probabilities``.
Input: float32 ``(n, slices, crop, crop, 1)`` in [0, 1] from :func:`inference.volume_preprocess.prepare_volume`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
from keras import layers, ops

from inference.models import FEATURES_LAYER, LOGITS_LAYER, PROBABILITIES_LAYER
from inference.volume_preprocess import VolumeGeometry

INSTANCE_NORM_EPSILON = 1e-5


@dataclass(frozen=True)
class DenseNet3DSpec:
    """Depths and widths of one 3D DenseNet configuration.

    Attributes
    ----------
    block_units : dense units in each of the four blocks (DenseNet-264: 6, 12, 64, 48).
    growth : channels each unit adds (k; DenseNet: 32).
    stem_channels : output channels of the 7³ stride-2 stem convolution (DenseNet: 2k).
    bottleneck_factor : the 1³ convolution of a unit has ``bottleneck_factor × growth`` channels.
    compression : fraction of channels a transition keeps (DenseNet-BC: 0.5).
    """

    block_units: tuple[int, int, int, int]
    growth: int
    stem_channels: int
    bottleneck_factor: int = 4
    compression: float = 0.5


VOLUME_VARIANTS: dict[str, DenseNet3DSpec] = {
    "densenet264": DenseNet3DSpec((6, 12, 64, 48), growth=32, stem_channels=64),  # the paper's configuration
    "shallow": DenseNet3DSpec((2, 2, 2, 2), growth=8, stem_channels=16),  # trains on a CPU in minutes
}


@keras.saving.register_keras_serializable(package="inference")
class InstanceNormalization(layers.Layer):
    """Normalise each channel of each sample over its spatial axes, then scale and shift per channel.

    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta``, mean and (biased) variance taken over
    every axis but the batch and the last (channel) axis. Statistics are computed in float32 even
    under mixed precision, where float16 sums over a 3D volume would lose precision.
    """

    def __init__(self, epsilon: float = INSTANCE_NORM_EPSILON, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        channels = int(input_shape[-1])  # type: ignore[arg-type]
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, inputs: Any) -> Any:
        x = ops.cast(inputs, "float32")
        axes = tuple(range(1, len(inputs.shape) - 1))
        mean = ops.mean(x, axis=axes, keepdims=True)
        variance = ops.mean(ops.square(x - mean), axis=axes, keepdims=True)
        normalised = (x - mean) * ops.rsqrt(variance + self.epsilon)
        scaled = normalised * ops.cast(self.gamma, "float32") + ops.cast(self.beta, "float32")
        return ops.cast(scaled, self.compute_dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon}


def _norm_relu_conv(x: Any, channels: int, kernel: int, *, name: str) -> Any:
    x = InstanceNormalization(name=f"{name}_in")(x)
    x = layers.ReLU(name=f"{name}_relu")(x)
    return layers.Conv3D(channels, kernel, padding="same", use_bias=False, name=f"{name}_conv")(x)


def _dense_block(x: Any, units: int, *, spec: DenseNet3DSpec, name: str) -> Any:
    for index in range(units):
        y = _norm_relu_conv(x, spec.bottleneck_factor * spec.growth, 1, name=f"{name}_u{index}_1")
        y = _norm_relu_conv(y, spec.growth, 3, name=f"{name}_u{index}_2")
        x = layers.Concatenate(name=f"{name}_u{index}_concat")([x, y])
    return x


def _transition(x: Any, *, spec: DenseNet3DSpec, name: str) -> Any:
    x = _norm_relu_conv(x, int(int(x.shape[-1]) * spec.compression), 1, name=name)
    return layers.AveragePooling3D(2, padding="same", name=f"{name}_pool")(x)


def build_covidnet3d(spec: DenseNet3DSpec, *, input_shape: tuple[int, int, int, int], name: str) -> keras.Model:
    """Assemble the 3D DenseNet for ``input_shape`` = ``(slices, height, width, 1)``.

    The stem pools in-plane only: after resampling a chest CT to 64 slices, slices lie about six
    times further apart than pixels, so the z axis keeps twice the resolution of a cubic pool.
    """
    inputs = keras.Input(shape=input_shape, dtype="float32", name="volume_unit")
    x = layers.Conv3D(spec.stem_channels, 7, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = InstanceNormalization(name="stem_in")(x)
    x = layers.ReLU(name="stem_relu")(x)
    x = layers.MaxPooling3D((1, 3, 3), strides=(1, 2, 2), padding="same", name="stem_pool")(x)
    for index, units in enumerate(spec.block_units):
        x = _dense_block(x, units, spec=spec, name=f"block{index + 1}")
        if index < len(spec.block_units) - 1:
            x = _transition(x, spec=spec, name=f"transition{index + 1}")
    # No norm before the global pool: an instance norm there would make every channel's spatial mean
    # its learnt offset, so the pooled features could no longer say how much of a pattern a scan has.
    features = layers.ReLU(name=FEATURES_LAYER)(x)
    x = layers.GlobalAveragePooling3D(name="pool")(features)
    logits = layers.Dense(1, name=LOGITS_LAYER)(x)
    # float32 even under a mixed-precision policy: probabilities near 0 and 1 need the range.
    probabilities = layers.Activation("sigmoid", name=PROBABILITIES_LAYER, dtype="float32")(logits)
    return keras.Model(inputs, probabilities, name=name)


def build_volume_model(variant: str, *, geometry: VolumeGeometry) -> keras.Model:
    """Build an untrained 3D classifier of a named configuration for a model-input geometry."""
    if variant not in VOLUME_VARIANTS:
        raise ValueError(f"unknown 3D variant {variant!r}; choose one of {sorted(VOLUME_VARIANTS)}")
    return build_covidnet3d(VOLUME_VARIANTS[variant], input_shape=geometry.input_shape, name=f"covidnet3d_{variant}")
