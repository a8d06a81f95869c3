"""Lung and lesion quantification of chest CT volumes in HU (pure numpy/scipy, no Django)."""

from inference.quantify.lesions import CONSOLIDATION, GGO, segment_lesions
from inference.quantify.lungs import LungMasks, segment_lungs
from inference.quantify.report import LesionPattern, Quantification, ZoneInvolvement, quantify_volume
from inference.quantify.scoring import MAX_TOTAL_SCORE, LesionHu

__all__ = ["CONSOLIDATION", "GGO", "MAX_TOTAL_SCORE", "LesionHu", "LesionPattern", "LungMasks", "Quantification",
           "ZoneInvolvement", "quantify_volume", "segment_lesions", "segment_lungs"]
