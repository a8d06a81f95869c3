"""Grad-CAM heatmaps for Keras slice classifiers, plus key-slice selection and lung masking.

TensorFlow and Keras are imported inside ``gradcam`` only, so that importing this module (e.g.
from the web process) stays light.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FEATURES_LAYER = "features"  # contract with inference.models: the classifier's last conv block
_cam_steps: dict[tuple[int, str], Any] = {}


def _compiled_cam_step(model: Any, layer_name: str) -> Any:
    """Return a traced ``(images, class_index) -> ReLU(sum_c w_c A_c)`` for ``model``, built once per model."""
    key = (id(model), layer_name)
    if key not in _cam_steps:
        import keras
        import tensorflow as tf

        feature_model = keras.Model(model.inputs, [model.get_layer(layer_name).output, model.outputs[0]])

        @tf.function(reduce_retracing=True)
        def cam_step(images: Any, class_index: Any) -> Any:
            with tf.GradientTape() as tape:
                features, probabilities = feature_model(images, training=False)
                score = tf.math.log(tf.gather(probabilities, class_index, axis=1) + 1e-7)
            gradients = tape.gradient(score, features)
            channel_weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
            return tf.nn.relu(tf.reduce_sum(channel_weights * features, axis=-1, keepdims=True))

        _cam_steps.clear()  # one model per worker process: drop the previous model's trace
        _cam_steps[key] = cam_step
    return _cam_steps[key]


def gradcam(
    model: Any,
    images_uint8: np.ndarray,
    *,
    class_index: int,
    layer_name: str = FEATURES_LAYER,
) -> np.ndarray:
    """Compute Grad-CAM heatmaps for one class in one batched forward/backward pass.

    Weights each channel of layer ``layer_name`` by the spatial mean of the gradient of
    log p(class) (the model output is softmax probabilities; the log avoids saturation near
    p = 1), sums, applies ReLU, upsamples bilinearly to the input size and divides each map by
    its maximum (an all-zero map stays zero).

    Parameters
    ----------
    model : Keras 3 functional model (TensorFlow backend) taking (N, H, W, 1) slices on the 0–255 scale.
    images_uint8 : (N, H, W) or (N, H, W, 1) uint8 slices, e.g. the top-k slices of a study.
    class_index : output class to explain.
    layer_name : convolutional layer whose activations are weighted.

    Returns
    -------
    float32 (N, H, W) heatmaps in [0, 1].
    """
    images = np.asarray(images_uint8)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"images must be (N, H, W) or (N, H, W, 1), got shape {images.shape}")
    import tensorflow as tf

    cam_step = _compiled_cam_step(model, layer_name)
    cam = cam_step(tf.convert_to_tensor(images, dtype=tf.float32), tf.constant(class_index))
    cam = tf.image.resize(cam, images.shape[1:3], method="bilinear")[..., 0].numpy()
    peak = cam.max(axis=(1, 2), keepdims=True)
    return np.asarray(np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0), dtype=np.float32)


def mask_heatmaps(heatmaps: np.ndarray, *, lung_masks: np.ndarray) -> np.ndarray:
    """Zero heat outside the lungs and rescale each map so its maximum inside the lungs is 1.

    Parameters
    ----------
    heatmaps : float (N, H, W) in [0, 1].
    lung_masks : boolean (N, H, W) lung masks of the same slices.

    Returns
    -------
    float32 (N, H, W) in [0, 1]; a slice without lung or heat stays all zero.
    """
    if heatmaps.shape != lung_masks.shape:
        raise ValueError(f"heatmaps {heatmaps.shape} and lung_masks {lung_masks.shape} must share a shape")
    masked = np.where(lung_masks, heatmaps, 0.0).astype(np.float32)
    peak = masked.max(axis=(1, 2), keepdims=True)
    return np.asarray(np.divide(masked, peak, out=np.zeros_like(masked), where=peak > 0))


def select_key_slices(slice_probs: np.ndarray, *, k: int = 8) -> np.ndarray:
    """Return the indices of the ``k`` most probable slices, most probable first (ties: lower index first).

    Parameters
    ----------
    slice_probs : (N,) per-slice probability of the class to explain.
    k : number of slices; fewer are returned when N < k.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    probs = np.asarray(slice_probs, dtype=np.float64).ravel()
    order = np.lexsort((np.arange(probs.size), -probs))
    return order[:k].astype(np.int64)
