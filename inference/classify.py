"""Classify uint8 slices with a loaded model, calibrated (no Django, Keras only through the model).

Used by the offline evaluation (:mod:`inference.evaluate`). The worker's whole-study path is
:mod:`inference.analysis`, which batches slices itself and calibrates with the same
:func:`~inference.aggregate.calibrate_probabilities`.
"""

from __future__ import annotations

import numpy as np

from inference.aggregate import calibrate_probabilities
from inference.registry import LoadedModel


def predict_slice_probabilities(loaded: LoadedModel, slices_uint8: np.ndarray, *, batch_size: int = 8) -> np.ndarray:
    """Return calibrated class probabilities ``(n, classes)`` for uint8 slices ``(n, s, s)``.

    The model's softmax output is rescaled with the card's temperature (1.0 when uncalibrated).
    """
    raw = loaded.model.predict(np.asarray(slices_uint8)[..., np.newaxis], batch_size=batch_size, verbose=0)
    return calibrate_probabilities(raw, temperature=loaded.temperature)
