"""Grad-CAM for the 3D volume classifier: one heat volume on the model-input grid.

TensorFlow is imported inside the functions only (the worker's backend), like :mod:`.gradcam`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from inference.explain.gradcam import FEATURES_LAYER

_cam_steps: dict[tuple[int, str], Any] = {}


def _compiled_volume_cam_step(model: Any, layer_name: str) -> Any:
    """Return a traced ``volumes -> (ReLU(sum_c w_c A_c), p)`` for a sigmoid model, built once per model."""
    key = (id(model), layer_name)
    if key not in _cam_steps:
        import keras
        import tensorflow as tf

        feature_model = keras.Model(model.inputs, [model.get_layer(layer_name).output, model.outputs[0]])

        @tf.function(reduce_retracing=True)
        def cam_step(volumes: Any) -> Any:
            with tf.GradientTape() as tape:
                features, probabilities = feature_model(volumes, training=False)
                features = tf.cast(features, tf.float32)
                score = tf.math.log(tf.cast(probabilities[:, 0], tf.float32) + 1e-7)
            gradients = tape.gradient(score, features)
            channel_weights = tf.reduce_mean(gradients, axis=(1, 2, 3), keepdims=True)
            cam = tf.nn.relu(tf.reduce_sum(channel_weights * features, axis=-1))
            return cam, probabilities[:, 0]

        _cam_steps.clear()  # one model per worker process: drop the previous model's trace
        _cam_steps[key] = cam_step
    return _cam_steps[key]


def gradcam_volume(model: Any, volume: np.ndarray, *, layer_name: str = FEATURES_LAYER) -> tuple[np.ndarray, float]:
    """Compute the Grad-CAM of P(COVID-19) for one model-input volume, and that probability.

    Channels of ``layer_name`` are weighted by the mean gradient of log p over the feature grid,
    summed and passed through ReLU; the map is resized trilinearly to the input grid and divided
    by its maximum (an all-zero map stays zero). The z resolution is that of the feature grid.

    Parameters
    ----------
    model : Keras 3 functional model (TensorFlow backend) with a one-unit sigmoid output.
    volume : float32 ``(slices, height, width)`` model input from ``prepare_volume``.

    Returns
    -------
    heat : float32 ``(slices, height, width)`` in [0, 1].
    probability : the model's uncalibrated P(COVID-19) for the volume (same forward pass).
    """
    if volume.ndim != 3:
        raise ValueError(f"volume must be (slices, height, width), got shape {volume.shape}")
    import tensorflow as tf

    cam_step = _compiled_volume_cam_step(model, layer_name)
    cam, probability = cam_step(tf.convert_to_tensor(volume[np.newaxis, ..., np.newaxis], dtype=tf.float32))
    grid = cam.numpy()[0]
    factors = [target / current for target, current in zip(volume.shape, grid.shape)]
    heat = np.clip(ndimage.zoom(grid, factors, order=1, mode="nearest", grid_mode=True), 0.0, None)
    peak = float(heat.max())
    heat = heat / peak if peak > 0 else np.zeros_like(heat)
    return heat.astype(np.float32), float(probability.numpy()[0])
