"""2D slice classifiers in the spirit of COVID-Net CT-2, built lazily so importing this needs no Keras.

Contract used by Grad-CAM and the registry: the layer named ``FEATURES_LAYER`` outputs
the last convolutional block's feature map, ``EMBEDDING_LAYER`` its global average (the penultimate
layer), ``LOGITS_LAYER`` the pre-softmax scores
and ``PROBABILITIES_LAYER`` (the model output) the softmax probabilities. Inputs are
``(n, size, size, 1)`` grey levels 0..255 (uint8 values), normalised inside the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

FEATURES_LAYER = "features"
EMBEDDING_LAYER = "pool"  # penultimate: pooled features, the space of the in-domain distance (inference.domain)
LOGITS_LAYER = "logits"
PROBABILITIES_LAYER = "probabilities"


@dataclass(frozen=True)
class VariantSpec:
    """Widths and depths of one model variant.

    Attributes
    ----------
    stem_channels : output channels of the 7x7 stride-2 stem convolution.
    stage_channels : output channels of each stage (stages 2-4 halve the resolution).
    blocks_per_stage : projection-expansion (PEPX) blocks in each stage.
    target_params : parameter count the variant is designed to (paper: S 0.45 M, L 1.4 M).
    """

    stem_channels: int
    stage_channels: tuple[int, ...]
    blocks_per_stage: tuple[int, ...]
    target_params: int


VARIANTS: dict[str, VariantSpec] = {
    "s": VariantSpec(24, (64, 128, 224, 320), (2, 2, 3, 2), 450_000),
    "l": VariantSpec(32, (96, 192, 352, 512), (2, 3, 4, 3), 1_400_000),
}


def build_model(variant: str = "s", *, input_size_px: int = 512, num_classes: int = 3) -> keras.Model:
    """Build an untrained slice classifier (imports Keras on first call).

    Parameters
    ----------
    variant : key of ``VARIANTS`` ("s" or "l").
    input_size_px : square input side in pixels (512 as in CT-2; 256 or 224 for CPU).
    num_classes : number of output classes (from the training data's class folders).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {sorted(VARIANTS)}")
    from inference.models.covidnet import build_covidnet

    return build_covidnet(VARIANTS[variant], input_size_px=input_size_px, num_classes=num_classes, name=f"covidnet_ct_{variant}")
