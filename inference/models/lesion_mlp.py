"""Keras 3 classifier of per-slice lesion features (:mod:`inference.lesion_features`), backend-agnostic.

Small on purpose: about 13 physical features and a few thousand training rows (four real volumes
and their synthetic-lesion copies) support a few hundred weights, not a CNN's 0.4 M. The input is
standardised inside the model with the training rows' mean and variance (stored in the model card,
so the card alone rebuilds the model); ``EMBEDDING_LAYER`` is the last hidden layer, the space of
the in-domain distance (:mod:`inference.domain`), as for the CNNs.
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import layers

from inference.models import EMBEDDING_LAYER, LOGITS_LAYER, PROBABILITIES_LAYER

HIDDEN_UNITS = (32, 16)
DROPOUT = 0.2
L2 = 1e-3


def build_feature_model(*, mean: Sequence[float], variance: Sequence[float], num_classes: int = 3) -> keras.Model:
    """Build an untrained feature classifier for ``len(mean)`` features, standardised by ``mean``/``variance``."""
    inputs = keras.Input(shape=(len(mean),), name="lesion_features")
    x = layers.Normalization(mean=list(mean), variance=list(variance), name="standardise")(inputs)
    for index, units in enumerate(HIDDEN_UNITS):
        last = index == len(HIDDEN_UNITS) - 1
        x = layers.Dense(units, activation="relu", kernel_regularizer=keras.regularizers.L2(L2),
                         name=EMBEDDING_LAYER if last else f"hidden{index}")(x)
        if not last:
            x = layers.Dropout(DROPOUT, name=f"dropout{index}")(x)
    logits = layers.Dense(num_classes, name=LOGITS_LAYER)(x)
    outputs = layers.Softmax(name=PROBABILITIES_LAYER, dtype="float32")(logits)
    return keras.Model(inputs, outputs, name="lesion_feature_mlp")
