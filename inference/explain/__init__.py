"""Explanations: Grad-CAM heatmaps, key-slice selection, overlays and heatmap storage (no Django).

TensorFlow is imported lazily inside :func:`gradcam`.
"""

from inference.explain.codec import decode_heatmap, encode_heatmap
from inference.explain.gradcam import gradcam, mask_heatmaps, select_key_slices
from inference.explain.render import render_lesion_outline_png, render_overlay_png

__all__ = [
    "decode_heatmap",
    "encode_heatmap",
    "gradcam",
    "mask_heatmaps",
    "render_lesion_outline_png",
    "render_overlay_png",
    "select_key_slices",
]
