"""Synthetic lung lesions inserted into real HU CT slices (training data for the slice classifier)."""

from inference.synth.lesions import (
    LESION_KINDS,
    PATTERNS,
    insert_pattern,
    lesion_texture_hu,
    random_blob_yx,
)

__all__ = ["LESION_KINDS", "PATTERNS", "insert_pattern", "lesion_texture_hu", "random_blob_yx"]
