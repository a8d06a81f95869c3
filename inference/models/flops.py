"""Count floating-point operations of a built Keras model analytically from its layer shapes."""

from __future__ import annotations

from typing import Any

import keras

FLOPS_DEFINITION = "2 x multiply-accumulates of convolution and dense layers per slice (normalisation, activations, pooling excluded)"


def layer_flops(layer: Any) -> int:
    """Return 2 x multiply-accumulates of one Conv2D, DepthwiseConv2D or Dense layer (0 for others)."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        _, height, width, channels = layer.output.shape
        kernel_h, kernel_w = layer.kernel_size
        return 2 * height * width * channels * kernel_h * kernel_w
    if isinstance(layer, keras.layers.Conv2D):
        _, height, width, out_channels = layer.output.shape
        in_channels = layer.input.shape[-1]
        kernel_h, kernel_w = layer.kernel_size
        return 2 * height * width * out_channels * kernel_h * kernel_w * in_channels // layer.groups
    if isinstance(layer, keras.layers.Dense):
        return 2 * int(layer.input.shape[-1]) * int(layer.units)
    return 0


def model_flops(model: keras.Model) -> int:
    """Return the FLOPs of one forward pass of one input slice (see ``FLOPS_DEFINITION``)."""
    return int(sum(layer_flops(layer) for layer in model.layers))
