"""Analyse one CT study with the lesion-feature model (card ``kind: features``), as a worker does; no Django.

The same :class:`inference.analysis.StudyAnalysis` comes out as from the slice path. Stages
(``stage_seconds``):

1. ``quantify``: lung and lesion segmentation (:mod:`inference.quantify`); the model needs it,
   so it runs first rather than beside the model;
2. ``classify``: per-slice lesion features (:mod:`inference.lesion_features`) of the lung slices
   :func:`inference.preprocess.plan_study` picks -> the model (probabilities and last hidden layer);
3. ``aggregate``: temperature and study rule of the card (:func:`inference.analysis.score_study`);
4. ``domain``: the card's domain rules with the feature distance of the hidden layer;
5. ``explain``: key slices (highest P(COVID-19)) with their lesion outlines. A feature model has
   no pixel heatmap: the lesion mask the features came from is the explanation, so no Grad-CAM
   overlay is stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from inference.dicom_io import Volume
from inference.lesion_features import slice_features
from inference.preprocess import plan_study
from inference.registry import LoadedModel

if TYPE_CHECKING:
    from inference.analysis import OverlayImage, StageTimer, StudyAnalysis

DEFAULT_KEY_SLICES = 8


def lesion_overlays(volume: Volume, indices: list[int], *, lesion_labels: np.ndarray) -> list[OverlayImage]:
    """Return the lesion-outline overlay of each key slice."""
    from inference.analysis import OverlayImage
    from inference.explain import render_lesion_outline_png

    height, width = volume.hu.shape[1:]
    return [OverlayImage(index, "lesion", render_lesion_outline_png(lesion_labels[index]), None, width, height)
            for index in indices]


def analyse_with_lesion_features(volume: Volume, *, loaded: LoadedModel, key_slices: int = DEFAULT_KEY_SLICES,
                                 timer: StageTimer) -> StudyAnalysis:
    """Quantify, classify the slices' lesion features, aggregate and check the domain (see the module docstring)."""
    from inference.analysis import assess_applicability, score_study, study_analysis
    from inference.explain import select_key_slices
    from inference.quantify import quantify_volume

    class_names = tuple(loaded.card["class_names"])
    with timer.stage("quantify"):
        quantification = quantify_volume(volume.hu, spacing_mm=volume.spacing_mm, orientation=volume.orientation,
                                         superior_first=volume.superior_first)
    with timer.stage("classify"):
        plan = plan_study(volume.hu)
        features = slice_features(volume.hu, quantification=quantification, spacing_mm=volume.spacing_mm,
                                  indices=plan.slice_indices)
        model = loaded.scoring_model or loaded.model
        joined = (np.asarray(model.predict(features, verbose=0), dtype=np.float64) if len(features)
                  else np.zeros((0, len(class_names))))  # no lung slice: nothing to score (the domain check says why)
        raw, embedding = joined[:, :len(class_names)], joined[:, len(class_names):]
    with timer.stage("aggregate"):
        scores = score_study(raw, loaded=loaded)
        key = plan.slice_indices[select_key_slices(scores.slice_probabilities[:, loaded.positive_index], k=key_slices)]
    with timer.stage("domain"):
        applicability = assess_applicability(volume, loaded=loaded, lung_mask=quantification.lungs.both,
                                             features=embedding if loaded.scoring_model is not None else None)
    with timer.stage("explain"):
        overlays = lesion_overlays(volume, key.tolist(), lesion_labels=quantification.lesion_labels)
    return study_analysis(volume, plan, scores, card=loaded.card, key=key, quantification=quantification,
                          overlays=overlays, applicability=applicability, timer=timer)
