"""Keras 3 definition of the COVID-Net CT-2-style slice classifier (``keras.layers`` only, backend-agnostic)."""

from __future__ import annotations

import keras
from keras import layers

from inference.models import EMBEDDING_LAYER, FEATURES_LAYER, LOGITS_LAYER, PROBABILITIES_LAYER, VariantSpec

# Moving statistics follow the weights within about ten steps (Keras default 0.99: about a hundred),
# so validation in inference mode tracks training on small datasets. Training-only: inference is unchanged.
BN_MOMENTUM = 0.9


def _conv_1x1(x: keras.KerasTensor, channels: int, *, name: str, strides: int = 1, relu: bool = True) -> keras.KerasTensor:
    x = layers.Conv2D(channels, 1, strides=strides, use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _pepx_block(x: keras.KerasTensor, channels: int, *, strides: int, name: str) -> keras.KerasTensor:
    """Projection -> expansion -> depthwise 3x3 -> projection -> extension (no final activation)."""
    projected = max(channels // 4, 8)
    y = _conv_1x1(x, projected, name=f"{name}_proj1")
    y = _conv_1x1(y, 2 * projected, name=f"{name}_expand")
    y = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False, name=f"{name}_dw")(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_dw_bn")(y)
    y = layers.ReLU(name=f"{name}_dw_relu")(y)
    y = _conv_1x1(y, projected, name=f"{name}_proj2")
    return _conv_1x1(y, channels, name=f"{name}_extend", relu=False)


def _stage(x: keras.KerasTensor, channels: int, *, blocks: int, strides: int, name: str) -> keras.KerasTensor:
    """Run PEPX blocks whose outputs accumulate on a projected hub of the stage input."""
    total = _conv_1x1(x, channels, strides=strides, name=f"{name}_hub", relu=False)
    block_input = x
    for index in range(blocks):
        block_output = _pepx_block(block_input, channels, strides=strides if index == 0 else 1, name=f"{name}_b{index}")
        total = layers.Add(name=f"{name}_sum{index}")([total, block_output])
        block_input = layers.ReLU(name=f"{name}_relu{index}")(total)
    return total


def build_covidnet(spec: VariantSpec, *, input_size_px: int, num_classes: int, name: str) -> keras.Model:
    """Assemble the functional model described by ``spec`` (see :mod:`inference.models`)."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    # uint8 in: a quarter of the bytes to the device; the cast and scaling run on the device.
    inputs = keras.Input(shape=(input_size_px, input_size_px, 1), dtype="uint8", name="slice_uint8")
    x = layers.Rescaling(1.0 / 255.0, name="to_unit_range")(inputs)
    x = layers.Conv2D(spec.stem_channels, 7, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    stage_outputs = []
    for index, (channels, blocks) in enumerate(zip(spec.stage_channels, spec.blocks_per_stage, strict=True)):
        x = _stage(x, channels, blocks=blocks, strides=1 if index == 0 else 2, name=f"stage{index + 1}")
        stage_outputs.append(x)
        x = layers.ReLU(name=f"stage{index + 1}_out")(x)
    # Long-range hub: the first stage's map, pooled to the last stage's grid, joins the final sum.
    pool = 2 ** (len(spec.stage_channels) - 1)
    early = layers.AveragePooling2D(pool, padding="same", name="hub_long_pool")(stage_outputs[0])
    early = _conv_1x1(early, spec.stage_channels[-1], name="hub_long", relu=False)
    x = layers.Add(name="hub_long_sum")([stage_outputs[-1], early])
    features = layers.ReLU(name=FEATURES_LAYER)(x)
    x = layers.GlobalAveragePooling2D(name=EMBEDDING_LAYER)(features)
    x = layers.Dropout(0.2, name="dropout")(x)
    logits = layers.Dense(num_classes, name=LOGITS_LAYER)(x)
    # float32 even under a mixed-precision policy: probabilities near 0 and 1 need the range.
    probabilities = layers.Softmax(name=PROBABILITIES_LAYER, dtype="float32")(logits)
    return keras.Model(inputs, probabilities, name=name)
