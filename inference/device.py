"""Pick the numeric precision for the device Keras runs on (imports Keras only when called)."""

from __future__ import annotations

MIXED_PRECISION = "mixed_float16"
FULL_PRECISION = "float32"


def gpu_available() -> bool:
    """Return True when the active Keras backend (TensorFlow, JAX or PyTorch) sees a GPU."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(device.platform == "gpu" for device in jax.devices())
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available())
    return False


def configure_precision() -> str:
    """Use mixed float16 on a GPU (tensor cores, half the memory), float32 on CPU; return the policy."""
    import keras

    policy = MIXED_PRECISION if gpu_available() else FULL_PRECISION
    keras.mixed_precision.set_global_policy(policy)
    return policy
