"""Tests of inference.train_hu: folds pair pneumonia with normal volumes; a tiny run writes a complete card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inference.train_hu import FEATURE_REFERENCE_FILE, validation_folds


def tiny_table(path: Path, *, size_px: int = 32) -> Path:
    """Write a slice table: two abnormal and two normal volumes plus synthetic rows; brighter = more lesion."""
    rng = np.random.default_rng(0)
    groups, labels, domains, infection = [], [], [], []
    for volume, study_class in (("cov", 2), ("cap", 1), ("nrm", 0), ("dx", 0)):
        for index in range(10):
            label = study_class if index % 2 else 0
            groups.append(volume), labels.append(label), domains.append("real"), infection.append(int(label > 0))
        for label in (1, 2):
            groups.append(volume), labels.append(label), domains.append("synthetic"), infection.append(1)
    labels_array = np.asarray(labels)
    images = (rng.random((labels_array.size, size_px, size_px)) * 60 + labels_array[:, None, None] * 80).astype(np.uint8)
    np.savez(path, images=images, labels=labels_array, groups=np.asarray(groups), domains=np.asarray(domains),
             infection=np.asarray(infection), slice_index=np.arange(labels_array.size),
             class_names=np.asarray(["normal", "pneumonia", "covid"]), size_px=np.int64(size_px), seed=np.int64(0))
    return path


@pytest.fixture(scope="session")
def tiny_hu_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from inference import train

    root = tmp_path_factory.mktemp("hu")
    table = tiny_table(root / "table.npz")
    out = root / "run"
    train.main(["--data", str(table), "--size", "32", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4",
                "--n-boot", "50", "--out", str(out)])
    return out


def test_validation_folds__pair_each_pneumonia_volume_with_a_normal_one(tmp_path):
    with np.load(tiny_table(tmp_path / "t.npz")) as data:
        folds = validation_folds({key: data[key] for key in data.files})
    assert folds == [("cap", "dx"), ("cov", "nrm")]


def test_run__card_has_three_classes_per_fold_metrics_calibration_and_domain(tiny_hu_run):
    card = json.loads((tiny_hu_run / "model_card.json").read_text())
    assert card["class_names"] == ["normal", "pneumonia", "covid"] and card["kind"] == "slice"
    studies = card["validation"]["real_hu_studies"]["held_out_study_probabilities"]
    assert set(studies) == {"cap", "cov", "nrm", "dx"}
    assert set(card["validation"]["real_hu_slices"]["per_fold"]) == {"cap", "cov", "nrm", "dx"}
    assert "infection_vs_none" in card["validation"]["real_hu_slices"]["pooled"]
    assert card["calibration"]["temperature"] > 0 and "ece_after_cross_fitted" in card["calibration"]
    limits = card["domain"]["limits"]
    held = card["domain"]["held_out_relative_distances"]
    assert limits["max_relative_distance"] == pytest.approx(1.5 * max(held.values()))
    assert (tiny_hu_run / FEATURE_REFERENCE_FILE).exists() and FEATURE_REFERENCE_FILE in card["extra_files"]


def test_run__published_model_loads_with_its_feature_reference(tiny_hu_run, tmp_path):
    from inference.registry import load_model, publish_run

    publish_run(tiny_hu_run, name="hu", version="v1", root=tmp_path)
    loaded = load_model("hu/v1", root=tmp_path)
    assert loaded.feature_reference is not None and loaded.scoring_model is not None
    joined = loaded.scoring_model.predict(np.zeros((2, 32, 32, 1), np.uint8), verbose=0)
    probabilities = loaded.model.predict(np.zeros((2, 32, 32, 1), np.uint8), verbose=0)
    np.testing.assert_allclose(joined[:, :3], probabilities, rtol=1e-5)
    assert joined.shape[1] == 3 + loaded.feature_reference.mean.size


def calibration_fold(fold: int, *, confident: float, labels: list[int], predicted: list[int]) -> dict:
    """One fold's raw probabilities: ``confident`` on the predicted class, the rest spread evenly."""
    raw = np.full((len(labels), 3), (1 - confident) / 2)
    raw[np.arange(len(labels)), predicted] = confident
    return {"fold": fold, "raw": raw, "labels": np.asarray(labels)}


def test_a_temperature_that_raises_the_cross_fitted_ece_is_not_applied():
    from inference.train_hu import chosen_calibration

    # Fold 0 is confidently wrong (a lung-cancer volume called COVID-19), the others confidently right:
    # each fold's temperature, fitted on the others, miscalibrates it.
    folds = [calibration_fold(0, confident=0.999, labels=[0] * 20, predicted=[2] * 20),
             calibration_fold(1, confident=0.95, labels=[2] * 10 + [0] * 10, predicted=[2] * 10 + [0] * 10),
             calibration_fold(2, confident=0.95, labels=[2] * 10 + [0] * 10, predicted=[2] * 10 + [0] * 10)]
    calibration = chosen_calibration(folds)
    assert calibration["ece_after_cross_fitted"] >= calibration["ece_before"]
    assert calibration["temperature"] == 1.0 and calibration["fitted_temperature"] > 1.0
    assert "not applied" in calibration["note"]


def test_a_temperature_that_lowers_the_cross_fitted_ece_is_kept():
    from inference.train_hu import chosen_calibration

    # Every fold equally over-confident: 0.99 stated, 70 % right; softening helps each fold.
    labels = [2] * 7 + [0] * 3 + [0] * 7 + [2] * 3
    predicted = [2] * 10 + [0] * 10
    folds = [calibration_fold(index, confident=0.99, labels=labels, predicted=predicted) for index in range(3)]
    calibration = chosen_calibration(folds)
    assert calibration["ece_after_cross_fitted"] < calibration["ece_before"]
    assert calibration["temperature"] > 1.0 and "fitted_temperature" not in calibration
