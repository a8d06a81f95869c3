"""Analyse one CT study end to end, as a worker does: no Django, Keras only through the model.

Stages (each timed in ``StudyAnalysis.stage_seconds``):

1. ``decode``: DICOM slices -> HU volume (:func:`inference.dicom_io.read_series`).
2. ``classify``: lung slices -> lung window, body crop, resize (uint8) -> model, in batches. A
   producer thread prepares batch *i + 1* while the model runs on batch *i* (TensorFlow releases
   the GIL), so preprocessing hides behind the model. Slices go to the model as uint8 values;
   the model normalises them itself, on the device.
3. ``domain`` (once stage 5's lung mask is ready): is the study in the model's validated domain (:mod:`inference.domain`): axial
   chest CT with lungs, plausible HU, covered slice spacing, penultimate features near the
   training slices. ``StudyAnalysis.applicability`` says so, with reasons; the caller stores a
   study that is not applicable as such instead of its probabilities.
4. ``aggregate``: temperature scaling from the model card, then the study rule of
   :mod:`inference.aggregate`.
5. ``quantify``: lung and lesion segmentation and measurements (:mod:`inference.quantify`), on
   a CPU thread that runs alongside stages 2–3 (so stage seconds can add up to more than the
   wall time).
6. ``explain``: Grad-CAM for the COVID-19 class on the top-k key slices in one batched pass,
   mapped back to the slice, masked to the lung, rendered as overlays; lesion outlines too
   (outline alone on a transparent PNG: the viewer draws it over the slice it shows).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inference.aggregate import DEFAULT_TOP_K, calibrate_probabilities, study_probability
from inference.dicom_io import DicomSource, Volume, read_series
from inference.domain import Applicability, DomainLimits, check_applicability, relative_feature_distance
from inference.preprocess import StudyPlan, plan_study, render_model_slices
from inference.quantify.report import Quantification
from inference.registry import LoadedModel

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 16
DEFAULT_KEY_SLICES = 8


@dataclass(frozen=True)
class SliceScore:
    """The model's calibrated COVID-19 probability for one lung slice of the sorted series."""

    slice_index: int
    z_position_mm: float | None
    covid_probability: float


@dataclass(frozen=True)
class OverlayImage:
    """A rendered overlay (PNG) of one slice; ``heatmap`` is the raw 8-bit PNG heat for re-blending."""

    slice_index: int
    kind: str  # "gradcam" | "lesion"
    png: bytes
    heatmap: bytes | None
    width_px: int
    height_px: int


@dataclass(frozen=True)
class StudyAnalysis:
    """Everything the platform stores for one study and model version."""

    class_names: tuple[str, ...]
    class_probabilities: dict[str, float]
    covid_probability: float
    covid_probability_uncalibrated: float
    predicted_label: str
    slice_scores: list[SliceScore]
    key_slice_indices: list[int]
    quantification: Quantification
    overlays: list[OverlayImage]
    applicability: Applicability | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)


class StageTimer:
    """Collect wall-clock seconds per named stage."""

    def __init__(self, seconds: dict[str, float] | None = None) -> None:
        self.seconds: dict[str, float] = dict(seconds or {})  # a later stage goes on from the earlier ones' seconds

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - started, 4)


def prefetched(produce: Callable[[int], np.ndarray], count: int, *, depth: int = 2) -> Iterator[np.ndarray]:
    """Yield ``produce(0) … produce(count - 1)``, computing the next items in a background thread."""
    items: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=depth)

    def worker() -> None:
        for i in range(count):
            try:
                items.put((i, produce(i)))
            except BaseException as error:  # handed to the consumer, which re-raises it
                items.put((i, error))
                return

    thread = threading.Thread(target=worker, name="preprocess-prefetch", daemon=True)
    thread.start()
    for _ in range(count):
        _, item = items.get()
        if isinstance(item, BaseException):
            raise item
        yield item
    thread.join()


def is_out_of_memory(error: BaseException) -> bool:
    """Return True for a device out-of-memory error of any Keras backend (TF, JAX/XLA, PyTorch)."""
    text = f"{type(error).__name__} {error}"
    return any(mark in text for mark in ("ResourceExhausted", "RESOURCE_EXHAUSTED", "out of memory", "OutOfMemory"))


def predict_raw(model: Any, batches: Iterator[np.ndarray]) -> np.ndarray:
    """Run the model on uint8 batches ``(n, s, s)``; return softmax outputs ``(N, classes)``.

    On a device out-of-memory error the batch is halved (down to 1) and the run continues with
    the smaller size, instead of failing the study.
    """
    outputs: list[np.ndarray] = []
    size = 0
    for batch in batches:
        size = size or len(batch)
        start = 0
        while start < len(batch):
            chunk = batch[start:start + size]
            try:
                outputs.append(np.asarray(model.predict_on_batch(chunk[..., np.newaxis]), dtype=np.float32))
            except Exception as error:  # backends raise their own OOM types; anything else propagates
                if size == 1 or not is_out_of_memory(error):
                    raise
                size //= 2
                logger.warning("inference.out_of_memory", extra={"batch_size": size})
                continue
            start += len(chunk)
    return np.concatenate(outputs, axis=0)


def classify_slices_with_features(
    volume_hu: np.ndarray, plan: StudyPlan, *, loaded: LoadedModel, batch_size: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return raw softmax outputs ``(n_lung_slices, classes)`` and, when the model has a feature reference,
    the penultimate features ``(n_lung_slices, d)`` of the same pass (else None); preprocessing overlaps the model."""
    size_px = int(loaded.card["input_size_px"])
    indices = plan.slice_indices
    starts = list(range(0, len(indices), batch_size))

    def batch(i: int) -> np.ndarray:
        return render_model_slices(volume_hu, plan, indices=indices[starts[i]:starts[i] + batch_size], size_px=size_px)

    if loaded.scoring_model is None:
        return predict_raw(loaded.model, prefetched(batch, len(starts))), None
    joined = predict_raw(loaded.scoring_model, prefetched(batch, len(starts)))
    classes = len(loaded.card["class_names"])
    return joined[:, :classes], joined[:, classes:]


def classify_slices(volume_hu: np.ndarray, plan: StudyPlan, *, loaded: LoadedModel, batch_size: int) -> np.ndarray:
    """Return raw softmax outputs ``(n_lung_slices, classes)`` with preprocessing overlapped on the model."""
    return classify_slices_with_features(volume_hu, plan, loaded=loaded, batch_size=batch_size)[0]


def feature_distance(features: np.ndarray | None, *, loaded: LoadedModel) -> float | None:
    """Return the study's relative distance to the training features (None when the model has no reference)."""
    if features is None or loaded.feature_reference is None or not len(features):
        return None
    return relative_feature_distance(features, reference=loaded.feature_reference)


def applicability_of(volume: Volume, *, card: dict[str, Any], lung_mask: np.ndarray,
                     relative_distance: float | None) -> Applicability:
    """Check the study against the model card's domain (the card only: no model needed)."""
    return check_applicability(volume.hu, spacing_mm=volume.spacing_mm, orientation=volume.orientation, lung_mask=lung_mask,
                               limits=DomainLimits.from_card(card), relative_distance=relative_distance,
                               manufacturer=volume.manufacturer)


def assess_applicability(volume: Volume, *, loaded: LoadedModel, lung_mask: np.ndarray, features: np.ndarray | None) -> Applicability:
    """Check the study against the model card's domain, with the feature distance when the model has a reference."""
    return applicability_of(volume, card=loaded.card, lung_mask=lung_mask,
                            relative_distance=feature_distance(features, loaded=loaded))


def heatmap_to_slice(heatmap: np.ndarray, plan: StudyPlan, *, slice_shape: tuple[int, int]) -> np.ndarray:
    """Map a model-input heatmap back onto the full slice (undo resize, square padding and body crop)."""
    from PIL import Image

    y0, y1, x0, x1 = plan.crop_box_yx
    height, width = y1 - y0, x1 - x0
    side = max(height, width)
    square = np.asarray(Image.fromarray(heatmap.astype(np.float32)).resize((side, side), Image.BILINEAR))
    pad_y, pad_x = (side - height) // 2, (side - width) // 2
    full = np.zeros(slice_shape, dtype=np.float32)
    full[y0:y1, x0:x1] = square[pad_y:pad_y + height, pad_x:pad_x + width]
    return np.clip(full, 0.0, 1.0)


def explain_key_slices(
    volume: Volume,
    plan: StudyPlan,
    *,
    loaded: LoadedModel,
    key_slice_indices: Sequence[int],
    lung_mask: np.ndarray,
    lesion_labels: np.ndarray,
) -> list[OverlayImage]:
    """Render a Grad-CAM overlay and a lesion-outline overlay for each key slice (one batched Grad-CAM pass)."""
    from inference.explain import gradcam

    if not key_slice_indices:
        return []
    size_px = int(loaded.card["input_size_px"])
    indices = np.asarray(key_slice_indices, dtype=np.int64)
    images = render_model_slices(volume.hu, plan, indices=indices, size_px=size_px)
    heat = gradcam(loaded.model, images, class_index=loaded.positive_index)
    return heatmap_overlays(volume, plan, indices, heat, lung_mask=lung_mask, lesion_labels=lesion_labels)


def heatmap_overlays(volume: Volume, plan: StudyPlan, indices: np.ndarray, heat: np.ndarray, *, lung_mask: np.ndarray,
                     lesion_labels: np.ndarray) -> list[OverlayImage]:
    """Map model-input Grad-CAM maps of slices ``indices`` onto their slices, mask them to the lungs, render overlays."""
    from inference.explain import mask_heatmaps

    if not len(indices):
        return []
    slice_shape = volume.hu.shape[1:]
    full = np.stack([heatmap_to_slice(h, plan, slice_shape=slice_shape) for h in heat])
    full = mask_heatmaps(full, lung_masks=lung_mask[indices])
    return render_key_slice_overlays(volume, np.asarray(indices).tolist(), full, lesion_labels=lesion_labels)


def render_key_slice_overlays(volume: Volume, indices: Sequence[int], heatmaps: Sequence[np.ndarray], *,
                              lesion_labels: np.ndarray) -> list[OverlayImage]:
    """Render the Grad-CAM overlay (with its raw heat) and the lesion outline of each key slice."""
    from inference.explain import encode_heatmap, render_lesion_outline_png, render_overlay_png

    height, width = volume.hu.shape[1:]
    overlays = []
    for index, heatmap in zip(indices, heatmaps):
        slice_hu = volume.hu[index]
        overlays.append(OverlayImage(index, "gradcam", render_overlay_png(slice_hu, heatmap),
                                     encode_heatmap(heatmap), width, height))
        overlays.append(OverlayImage(index, "lesion", render_lesion_outline_png(lesion_labels[index]),
                                     None, width, height))
    return overlays


def quantify_study(volume: Volume, *, timer: StageTimer) -> Quantification:
    """Segment and measure the lungs and lesions of a volume (stage ``quantify``)."""
    from inference.quantify import quantify_volume

    with timer.stage("quantify"):
        return quantify_volume(volume.hu, spacing_mm=volume.spacing_mm, orientation=volume.orientation,
                               superior_first=volume.superior_first)


def start_quantification(pool: ThreadPoolExecutor, volume: Volume, *, timer: StageTimer) -> Future[Quantification]:
    """Start lung and lesion quantification on ``pool``: it needs only the volume, so it runs while the model classifies."""
    return pool.submit(quantify_study, volume, timer=timer)


def analyse_volume(
    volume: Volume,
    *,
    loaded: LoadedModel,
    batch_size: int = DEFAULT_BATCH_SIZE,
    key_slices: int = DEFAULT_KEY_SLICES,
    timer: StageTimer | None = None,
) -> StudyAnalysis:
    """Classify, aggregate, quantify and explain one HU volume (see the module docstring for the stages).

    A volume model (card ``kind: volume``) takes the 3D path of :mod:`inference.volume_analysis`, a
    lesion-feature model (``kind: features``) the path of :mod:`inference.feature_analysis`.
    """
    from inference.registry import FEATURES_KIND, VOLUME_KIND

    timer = timer or StageTimer()
    if loaded.kind == VOLUME_KIND:
        from inference.volume_analysis import analyse_whole_volume

        return analyse_whole_volume(volume, loaded=loaded, key_slices=key_slices, timer=timer)
    if loaded.kind == FEATURES_KIND:
        from inference.feature_analysis import analyse_with_lesion_features

        return analyse_with_lesion_features(volume, loaded=loaded, key_slices=key_slices, timer=timer)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="quantify") as pool:
        quantified = start_quantification(pool, volume, timer=timer)
        with timer.stage("classify"):
            plan = plan_study(volume.hu)
            raw, features = classify_slices_with_features(volume.hu, plan, loaded=loaded, batch_size=batch_size)
        with timer.stage("aggregate"):
            scores = score_study(raw, loaded=loaded)
            key = plan.slice_indices[key_slice_positions(scores, loaded=loaded, k=key_slices)]
        quantification = quantified.result()
    with timer.stage("domain"):
        applicability = assess_applicability(volume, loaded=loaded, lung_mask=quantification.lungs.both, features=features)
    with timer.stage("explain"):
        overlays = explain_key_slices(volume, plan, loaded=loaded, key_slice_indices=key.tolist(),
                                      lung_mask=quantification.lungs.both, lesion_labels=quantification.lesion_labels)
    return study_analysis(volume, plan, scores, card=loaded.card, key=key, quantification=quantification,
                          overlays=overlays, applicability=applicability, timer=timer)


def key_slice_positions(scores: StudyScores, *, loaded: LoadedModel, k: int) -> np.ndarray:
    """Return the positions (among the classified slices) of the ``k`` most COVID-19-probable ones."""
    from inference.explain import select_key_slices

    return select_key_slices(scores.slice_probabilities[:, loaded.positive_index], k=k)


def study_analysis(volume: Volume, plan: StudyPlan, scores: StudyScores, *, card: dict[str, Any], key: np.ndarray,
                   quantification: Quantification, overlays: list[OverlayImage], applicability: Applicability,
                   timer: StageTimer) -> StudyAnalysis:
    """Assemble the :class:`StudyAnalysis` of a slice model from its stages' outputs."""
    class_names = tuple(card["class_names"])
    positive = class_names.index(card["positive_class"])
    return StudyAnalysis(
        class_names=class_names,
        class_probabilities=scores.class_probabilities,
        covid_probability=scores.covid_probability,
        covid_probability_uncalibrated=scores.covid_probability_uncalibrated,
        predicted_label=max(scores.class_probabilities, key=scores.class_probabilities.__getitem__),
        slice_scores=slice_scores(volume, plan, scores.slice_probabilities[:, positive]),
        key_slice_indices=np.asarray(key).tolist(),
        quantification=quantification,
        overlays=overlays,
        applicability=applicability,
        stage_seconds=timer.seconds,
    )


@dataclass(frozen=True)
class StudyScores:
    """Calibrated probabilities of a study's classified slices and of the study itself."""

    slice_probabilities: np.ndarray  # (n, classes), temperature-scaled
    covid_probability: float
    covid_probability_uncalibrated: float
    class_probabilities: dict[str, float]


def score_study(raw: np.ndarray, *, loaded: LoadedModel) -> StudyScores:
    """Calibrate raw slice outputs ``(n, classes)`` and aggregate them by the study rule of the card.

    Class probabilities are the means over the top-k slices by COVID-19 probability, the COVID-19
    one being the study probability itself, so they sum to 1.
    """
    class_names = tuple(loaded.card["class_names"])
    positive = loaded.positive_index
    calibrated = calibrate_probabilities(raw, temperature=loaded.temperature)
    top_k = int(loaded.card.get("aggregation", {}).get("top_k", DEFAULT_TOP_K))
    covid = study_probability(calibrated[:, positive], top_k=top_k)
    top = np.argsort(-calibrated[:, positive], kind="stable")[:top_k]
    class_probabilities = {name: float(p) for name, p in zip(class_names, calibrated[top].mean(axis=0))}
    class_probabilities[class_names[positive]] = covid
    return StudyScores(calibrated, covid, study_probability(raw[:, positive], top_k=top_k), class_probabilities)


def slice_scores(volume: Volume, plan: StudyPlan, covid_probabilities: np.ndarray) -> list[SliceScore]:
    """Return the score of each classified (lung-containing) slice; other slices are not scored."""
    return [
        SliceScore(int(i), float(volume.slice_positions_mm[i]), float(p))
        for i, p in zip(plan.slice_indices.tolist(), covid_probabilities.tolist())
    ]


def analyse_series(sources: Sequence[DicomSource], *, loaded: LoadedModel, **options: Any) -> StudyAnalysis:
    """Decode a DICOM series and analyse it; ``stage_seconds`` includes ``decode``."""
    timer = StageTimer()
    with timer.stage("decode"):
        volume = read_series(sources)
    return analyse_volume(volume, loaded=loaded, timer=timer, **options)
