"""Analyse one CT study with a 3D volume model (card ``kind: volume``), as a worker does; no Django.

The same :class:`inference.analysis.StudyAnalysis` comes out as from the slice path, so the
platform stores, lists, reports and exports it unchanged. Stages (``stage_seconds``):

1. ``classify``: the whole HU volume → :func:`inference.volume_preprocess.prepare_volume` → one
   forward pass (with Grad-CAM, which needs the same pass) → P(COVID-19).
2. ``aggregate``: temperature scaling from the model card; nothing to aggregate over slices.
3. ``quantify``: as in the slice path, on a CPU thread alongside stage 1.
4. ``explain``: key slices are the model slices with the most Grad-CAM heat, each mapped to its
   nearest source slice; the heat is mapped back onto that slice, masked to the lung, rendered.

A volume model scores the study, not slices: ``slice_scores`` is empty.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from inference.aggregate import calibrate_probabilities
from inference.dicom_io import Volume
from inference.registry import LoadedModel
from inference.volume_preprocess import geometry_from_card, heatmap_to_source_slice, prepare_volume

if TYPE_CHECKING:
    from inference.analysis import OverlayImage, StageTimer, StudyAnalysis

DEFAULT_KEY_SLICES = 8


def class_probabilities_of(probability: float, *, loaded: LoadedModel) -> np.ndarray:
    """Return the ``(1, classes)`` row of a sigmoid model: P(COVID-19) at the positive index, 1 - P beside it."""
    if len(loaded.card["class_names"]) != 2:
        raise ValueError(f"a volume model has two classes, its card names {loaded.card['class_names']}")
    row = np.full((1, 2), 1.0 - probability, dtype=np.float64)
    row[0, loaded.positive_index] = probability
    return row


def key_model_slices(heat: np.ndarray, *, source_slices: int, k: int) -> list[tuple[int, int]]:
    """Return up to ``k`` ``(model_slice, source_slice)`` pairs, hottest model slice first, one per source slice."""
    order = np.lexsort((np.arange(heat.shape[0]), -heat.sum(axis=(1, 2))))
    scale = (source_slices - 1) / max(heat.shape[0] - 1, 1)
    pairs: dict[int, int] = {}
    for model_slice in order.tolist():
        if heat[model_slice].max() <= 0 or len(pairs) == k:
            break
        pairs.setdefault(int(round(model_slice * scale)), int(model_slice))
    return [(model_slice, source_slice) for source_slice, model_slice in pairs.items()]


def explain_volume(volume: Volume, heat: np.ndarray, *, loaded: LoadedModel, pairs: list[tuple[int, int]],
                   lung_mask: np.ndarray, lesion_labels: np.ndarray) -> list[OverlayImage]:
    """Render a Grad-CAM overlay and a lesion-outline overlay for each key source slice."""
    from inference.analysis import render_key_slice_overlays
    from inference.explain import mask_heatmaps

    geometry = geometry_from_card(loaded.card)
    slice_shape = volume.hu.shape[1:]
    indices = [index for _, index in pairs]
    mapped = [heatmap_to_source_slice(heat[model_slice], geometry=geometry, slice_shape=slice_shape)
              for model_slice, _ in pairs]
    masked = mask_heatmaps(np.stack(mapped), lung_masks=lung_mask[indices]) if pairs else []
    return render_key_slice_overlays(volume, indices, masked, lesion_labels=lesion_labels)


def analyse_whole_volume(volume: Volume, *, loaded: LoadedModel, key_slices: int = DEFAULT_KEY_SLICES,
                         timer: StageTimer) -> StudyAnalysis:
    """Classify, quantify and explain one HU volume with a 3D model (see the module docstring)."""
    from inference.analysis import StudyAnalysis, start_quantification
    from inference.explain.gradcam_volume import gradcam_volume

    class_names = tuple(loaded.card["class_names"])
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="quantify") as pool:
        quantified = start_quantification(pool, volume, timer=timer)
        with timer.stage("classify"):
            model_input = prepare_volume(volume.hu, geometry=geometry_from_card(loaded.card))
            heat, probability = gradcam_volume(loaded.model, model_input)
        with timer.stage("aggregate"):
            raw = class_probabilities_of(probability, loaded=loaded)
            calibrated = calibrate_probabilities(raw, temperature=loaded.temperature)[0]
            class_probabilities = {name: float(p) for name, p in zip(class_names, calibrated)}
            pairs = key_model_slices(heat, source_slices=volume.hu.shape[0], k=key_slices)
        quantification = quantified.result()
    with timer.stage("explain"):
        overlays = explain_volume(volume, heat, loaded=loaded, pairs=pairs, lung_mask=quantification.lungs.both,
                                  lesion_labels=quantification.lesion_labels)
    return StudyAnalysis(
        class_names=class_names,
        class_probabilities=class_probabilities,
        covid_probability=class_probabilities[class_names[loaded.positive_index]],
        covid_probability_uncalibrated=probability,
        predicted_label=max(class_probabilities, key=class_probabilities.__getitem__),
        slice_scores=[],
        key_slice_indices=[index for _, index in pairs],
        quantification=quantification,
        overlays=overlays,
        stage_seconds=timer.seconds,
    )
