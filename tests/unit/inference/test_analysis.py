"""The end-to-end compute pipeline on a phantom series with a small untrained model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.analysis import analyse_series, heatmap_to_slice, prefetched
from inference.explain import decode_heatmap
from inference.phantom import write_phantom_series
from inference.preprocess import StudyPlan
from inference.registry import LoadedModel

SIZE_PX = 64


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    from inference.models import build_model

    model = build_model("s", input_size_px=SIZE_PX, num_classes=2)
    card = {"input_size_px": SIZE_PX, "class_names": ["non-covid", "covid"], "positive_class": "covid",
            "calibration": {"temperature": 2.0}, "aggregation": {"top_k": 3}}
    return LoadedModel(model, card, Path("."))


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> tuple[list[Path], object]:
    out = tmp_path_factory.mktemp("phantom")
    info = write_phantom_series(out, slices=24, size_px=96, severity="moderate", seed=5)
    return sorted(out.glob("*.dcm")), info


def test_prefetched__yields_in_order_and_reraises_producer_errors():
    assert [int(x) for x in prefetched(lambda i: np.array(i * 2), 5)] == [0, 2, 4, 6, 8]

    def failing(i: int) -> np.ndarray:
        if i == 2:
            raise ValueError("bad slice")
        return np.array(i)

    with pytest.raises(ValueError, match="bad slice"):
        list(prefetched(failing, 4))


def test_heatmap_to_slice__puts_heat_back_inside_the_crop_box():
    plan = StudyPlan(np.array([0]), np.array([1.0]), (10, 30, 20, 60))  # 20 x 40 crop, padded to 40 x 40
    heat = np.zeros((8, 8), np.float32)
    heat[4:, :] = 1.0  # lower half of the padded square
    full = heatmap_to_slice(heat, plan, slice_shape=(64, 64))
    assert full[:10].max() == 0 and full[30:].max() == 0 and full[:, :20].max() == 0
    assert full[25, 40] > 0.9 and full[12, 40] < 0.1


def test_analyse_series__produces_every_stored_part(loaded, series):
    files, info = series
    analysis = analyse_series(files, loaded=loaded, batch_size=5, key_slices=4)
    assert set(analysis.stage_seconds) == {"decode", "classify", "aggregate", "quantify", "domain", "explain"}
    # The project's own phantom is not patient CT: scored (for tests and demos) but marked not applicable.
    assert analysis.applicability is not None and not analysis.applicability.applicable
    assert analysis.applicability.reasons[0].startswith("synthetic phantom")
    assert 0.0 <= analysis.covid_probability <= 1.0
    assert sum(analysis.class_probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert analysis.predicted_label in {"non-covid", "covid"}
    scored = [s.slice_index for s in analysis.slice_scores]
    assert scored == sorted(scored) and 0 < len(scored) <= 24
    assert len(analysis.key_slice_indices) == 4 and set(analysis.key_slice_indices) <= set(scored)
    kinds = sorted({o.kind for o in analysis.overlays})
    assert kinds == ["gradcam", "lesion"] and len(analysis.overlays) == 8
    gradcam = next(o for o in analysis.overlays if o.kind == "gradcam")
    assert gradcam.png.startswith(b"\x89PNG") and decode_heatmap(gradcam.heatmap).shape == (96, 96)
    lesion_ml = analysis.quantification.lesion_total_ml
    assert lesion_ml == pytest.approx(info.lesion_ml["total"], rel=0.1)


def test_analyse_series__temperature_changes_only_the_calibrated_probability(loaded, series):
    files, _ = series
    hot = analyse_series(files, loaded=loaded, batch_size=8)
    cold_card = dict(loaded.card, calibration={"temperature": 1.0})
    cold = analyse_series(files, loaded=LoadedModel(loaded.model, cold_card, Path(".")), batch_size=8)
    assert hot.covid_probability_uncalibrated == pytest.approx(cold.covid_probability_uncalibrated)
    assert cold.covid_probability == pytest.approx(cold.covid_probability_uncalibrated)
    assert abs(hot.covid_probability - 0.5) <= abs(cold.covid_probability - 0.5) + 1e-9


class OutOfMemoryAbove:
    """A stand-in model that fails like a GPU out of memory for batches larger than ``limit``."""

    def __init__(self, limit: int):
        self.limit, self.sizes = limit, []

    def predict_on_batch(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) > self.limit:
            raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate")
        self.sizes.append(len(batch))
        return np.stack([batch.mean(axis=(1, 2, 3)), -batch.mean(axis=(1, 2, 3))], axis=1)


def test_predict_raw__halves_the_batch_on_out_of_memory_and_keeps_every_slice():
    from inference.analysis import predict_raw

    batches = [np.full((8, 4, 4), i, np.uint8) for i in range(3)] + [np.full((3, 4, 4), 9, np.uint8)]
    model = OutOfMemoryAbove(limit=2)
    out = predict_raw(model, iter(batches))
    assert out.shape == (27, 2) and max(model.sizes) == 2
    assert out[:, 0].tolist() == [0.0] * 8 + [1.0] * 8 + [2.0] * 8 + [9.0] * 3


def test_predict_raw__other_errors_are_not_swallowed():
    from inference.analysis import predict_raw

    class Broken:
        def predict_on_batch(self, batch):
            raise ValueError("bad input shape")

    with pytest.raises(ValueError, match="bad input shape"):
        predict_raw(Broken(), iter([np.zeros((4, 4, 4), np.uint8)]))
