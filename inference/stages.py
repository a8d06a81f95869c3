"""The slice-model analysis in three stages, so a GPU worker does only the model's work (no Django).

:func:`inference.analysis.analyse_volume` runs everything in one process. A deployment with
GPU workers runs the same analysis as three tasks on different processes instead:

1. :func:`prepare_slices` (CPU): lung slices, body crop, lung window, resize: the model-input
   tensor, uint8 ``(n, s, s)`` (300 slices at 128 px: 5 MB), handed on as a blob.
2. :func:`classify_prepared` (GPU): the model forward pass in batches, calibration and the study
   rule, the key slices, their Grad-CAM maps (model-input size) and the in-domain feature
   distance; handed on as a second small blob.
3. :func:`finish_analysis` (CPU): quantification of the decoded volume, the domain check,
   heat maps back onto the slices and masked to the lungs, overlays rendered: the same
   :class:`~inference.analysis.StudyAnalysis` the one-process path returns.

Blobs are ``.npz`` archives without pickles (:func:`to_npz`, :func:`from_npz`): a worker never
unpickles what another process wrote.
"""
from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from inference.analysis import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_KEY_SLICES,
    StageTimer,
    StudyAnalysis,
    StudyScores,
    applicability_of,
    feature_distance,
    heatmap_overlays,
    key_slice_positions,
    predict_raw,
    quantify_study,
    score_study,
    study_analysis,
)
from inference.dicom_io import Volume
from inference.preprocess import StudyPlan, plan_study, render_model_slices
from inference.registry import LoadedModel

PREPARED_FORMAT, CLASSIFIED_FORMAT = "prepared/1", "classified/1"


@dataclass(frozen=True)
class PreparedSlices:
    """The model input of one study and the plan it was cut with (stage 1's output)."""

    plan: StudyPlan
    slices_uint8: np.ndarray  # (n, s, s), the lung slices plan.slice_indices in order
    stage_seconds: dict[str, float]


@dataclass(frozen=True)
class ClassifiedSlices:
    """The model's outputs for one prepared study (stage 2's output)."""

    plan: StudyPlan
    scores: StudyScores
    key_slice_indices: np.ndarray  # (k,) source slice indices, most probable first
    heatmaps: np.ndarray  # (k, s, s) float32 Grad-CAM in [0, 1] at model-input size
    relative_distance: float | None
    stage_seconds: dict[str, float]


def prepare_slices(volume: Volume, *, card: dict[str, Any], timer: StageTimer) -> PreparedSlices:
    """Cut the model input out of a HU volume: needs the card only, never the model.

    Each stage's ``timer`` starts from the seconds of the stages before it (``StageTimer(seconds=…)``),
    so the result records the whole analysis.
    """
    with timer.stage("preprocess"):
        plan = plan_study(volume.hu)
        slices = render_model_slices(volume.hu, plan, indices=plan.slice_indices, size_px=int(card["input_size_px"]))
    return PreparedSlices(plan, slices, dict(timer.seconds))


def classify_prepared(prepared: PreparedSlices, *, loaded: LoadedModel, batch_size: int = DEFAULT_BATCH_SIZE,
                      key_slices: int = DEFAULT_KEY_SLICES, timer: StageTimer) -> ClassifiedSlices:
    """Run the model and Grad-CAM on prepared slices: the only stage that needs the model."""
    from inference.explain import gradcam

    slices = prepared.slices_uint8
    with timer.stage("classify"):
        joined = predict_raw(loaded.scoring_model or loaded.model, padded_batches(slices, batch_size))[:len(slices)]
        classes = len(loaded.card["class_names"])
        raw, features = joined[:, :classes], (joined[:, classes:] if loaded.scoring_model is not None else None)
    with timer.stage("aggregate"):
        scores = score_study(raw, loaded=loaded)
        positions = key_slice_positions(scores, loaded=loaded, k=key_slices)
    with timer.stage("explain"):
        heat = (gradcam(loaded.model, slices[positions], class_index=loaded.positive_index) if len(positions)
                else np.zeros((0, *slices.shape[1:]), dtype=np.float32))
    return ClassifiedSlices(prepared.plan, scores, prepared.plan.slice_indices[positions], heat,
                            feature_distance(features, loaded=loaded), dict(timer.seconds))


def padded_batches(slices: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Yield ``batch_size`` slices at a time, the last batch padded with blank slices.

    One input shape for every study: a gpu worker compiles the model's graph once, instead of
    once more for each new remainder of a study's slice count.
    """
    for start in range(0, len(slices), batch_size):
        batch = slices[start:start + batch_size]
        if len(batch) < batch_size:
            batch = np.concatenate([batch, np.zeros((batch_size - len(batch), *batch.shape[1:]), dtype=batch.dtype)])
        yield batch


def finish_analysis(volume: Volume, classified: ClassifiedSlices, *, card: dict[str, Any],
                    timer: StageTimer) -> StudyAnalysis:
    """Quantify, check the domain and render the overlays of a classified study: CPU work on the decoded volume."""
    quantification = quantify_study(volume, timer=timer)
    with timer.stage("domain"):
        applicability = applicability_of(volume, card=card, lung_mask=quantification.lungs.both,
                                         relative_distance=classified.relative_distance)
    with timer.stage("render"):
        overlays = heatmap_overlays(volume, classified.plan, classified.key_slice_indices, classified.heatmaps,
                                    lung_mask=quantification.lungs.both, lesion_labels=quantification.lesion_labels)
    return study_analysis(volume, classified.plan, classified.scores, card=card, key=classified.key_slice_indices,
                          quantification=quantification, overlays=overlays, applicability=applicability,
                          timer=timer)


# --- Blobs -----------------------------------------------------------------------------------

def _plan_arrays(plan: StudyPlan) -> dict[str, np.ndarray]:
    return {"slice_indices": plan.slice_indices, "lung_fraction": plan.lung_fraction,
            "crop_box_yx": np.asarray(plan.crop_box_yx, dtype=np.int64)}


def _plan_of(arrays: Any) -> StudyPlan:
    return StudyPlan(arrays["slice_indices"], arrays["lung_fraction"], tuple(int(v) for v in arrays["crop_box_yx"]))


def to_npz(stage: PreparedSlices | ClassifiedSlices, *, header: dict[str, Any]) -> bytes:
    """Serialise a stage's output with a JSON ``header`` (the caller's ids) into ``.npz`` bytes."""
    arrays = _plan_arrays(stage.plan)
    meta = dict(header, stage_seconds=stage.stage_seconds)
    if isinstance(stage, PreparedSlices):
        meta["format"] = PREPARED_FORMAT
        arrays["slices_uint8"] = stage.slices_uint8
    else:
        scores = stage.scores
        meta |= {"format": CLASSIFIED_FORMAT, "relative_distance": stage.relative_distance,
                 "covid_probability": scores.covid_probability,
                 "covid_probability_uncalibrated": scores.covid_probability_uncalibrated,
                 "class_probabilities": scores.class_probabilities}
        arrays |= {"slice_probabilities": scores.slice_probabilities, "key_slice_indices": stage.key_slice_indices,
                   "heatmaps": stage.heatmaps}
    arrays["header"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def from_npz(data: bytes) -> tuple[PreparedSlices | ClassifiedSlices, dict[str, Any]]:
    """Read :func:`to_npz` bytes back; return the stage output and the header."""
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        meta = json.loads(arrays["header"].tobytes())
        plan, seconds = _plan_of(arrays), meta.pop("stage_seconds")
        if meta["format"] == PREPARED_FORMAT:
            return PreparedSlices(plan, arrays["slices_uint8"], seconds), meta
        if meta["format"] != CLASSIFIED_FORMAT:
            raise ValueError(f"unknown analysis blob format {meta['format']!r}")
        scores = StudyScores(arrays["slice_probabilities"], meta.pop("covid_probability"),
                             meta.pop("covid_probability_uncalibrated"), meta.pop("class_probabilities"))
        return ClassifiedSlices(plan, scores, arrays["key_slice_indices"], arrays["heatmaps"],
                                meta.pop("relative_distance"), seconds), meta

