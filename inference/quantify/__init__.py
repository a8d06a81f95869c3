"""Lung and lesion quantification of chest CT volumes in HU (pure numpy/scipy, no Django)."""

from inference.quantify.lesions import CONSOLIDATION, GGO, segment_lesions
from inference.quantify.lungs import LungMasks, segment_lungs
from inference.quantify.report import Quantification, quantify_volume

__all__ = ["CONSOLIDATION", "GGO", "LungMasks", "Quantification", "quantify_volume", "segment_lesions", "segment_lungs"]
