"""Tests of inference.train_features and the worker's feature-model path: a tiny run writes a card that loads and scores a study."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inference.lesion_features import FEATURE_NAMES
from inference.train_features import class_balanced_weights, held_out_volumes, is_feature_table


def tiny_feature_table(path: Path) -> Path:
    """Write a feature table: three labelled volumes, NY-SBU slices and synthetic rows; larger features = more lesion."""
    rng = np.random.default_rng(0)
    groups, labels, domains, infection = [], [], [], []
    for volume, study_class in (("cov", 2), ("cap", 1), ("nrm", 0)):
        for index in range(12):
            label = study_class if index % 2 else 0
            groups.append(volume), labels.append(label), domains.append("real"), infection.append(int(label > 0))
        for label in (1, 2, 1, 2):
            groups.append(volume), labels.append(label), domains.append("synthetic"), infection.append(1)
    for patient in ("nysbu-a", "nysbu-b"):
        groups.append(patient), labels.append(2), domains.append("real"), infection.append(-1)
    labels_array = np.asarray(labels)
    features = rng.normal(size=(labels_array.size, len(FEATURE_NAMES))) + labels_array[:, None]
    np.savez(path, features=features.astype(np.float32), labels=labels_array, groups=np.asarray(groups),
             domains=np.asarray(domains), infection=np.asarray(infection), slice_index=np.arange(labels_array.size),
             feature_names=np.asarray(FEATURE_NAMES), class_names=np.asarray(["normal", "pneumonia", "covid"]), seed=np.int64(0))
    return path


@pytest.fixture(scope="module")
def feature_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from inference import train

    root = tmp_path_factory.mktemp("features")
    out = root / "run"
    train.main(["--data", str(tiny_feature_table(root / "table.npz")), "--epochs", "2", "--batch-size", "16",
                "--n-boot", "50", "--out", str(out)])
    return out


def test_held_out_volumes__are_the_labelled_multi_slice_real_volumes(tmp_path):
    path = tiny_feature_table(tmp_path / "t.npz")
    assert is_feature_table(path)
    with np.load(path) as data:
        assert held_out_volumes({key: data[key] for key in data.files}) == ["cap", "cov", "nrm"]


def test_class_balanced_weights__give_each_class_the_same_total():
    labels = np.array([0, 0, 0, 1, 2, 2])
    weights = class_balanced_weights(labels)
    totals = [weights[labels == c].sum() for c in range(3)]
    np.testing.assert_allclose(totals, [2.0, 2.0, 2.0])
    assert weights.mean() == pytest.approx(1.0)


def test_run__card_has_per_volume_metrics_calibration_external_site_and_domain(feature_run):
    card = json.loads((feature_run / "model_card.json").read_text())
    assert card["kind"] == "features" and card["feature_names"] == list(FEATURE_NAMES)
    assert len(card["feature_mean"]) == len(FEATURE_NAMES)
    validation = card["validation"]
    assert set(validation["real_hu_slices"]["per_fold"]) == {"cap", "cov", "nrm"}
    assert set(validation["synthetic_held_out"]) == {"cap", "cov", "nrm"}
    assert validation["nysbu_slices_held_out"]["n"] == 2
    assert card["calibration"]["temperature"] > 0 and "ece_after_cross_fitted" in card["calibration"]
    assert card["domain"]["limits"]["max_relative_distance"] > 0


def test_run__published_feature_model_scores_a_phantom_study_with_lesion_overlays_only(feature_run, tmp_path):
    from inference.analysis import analyse_series
    from inference.phantom import write_phantom_series
    from inference.registry import load_model, publish_run

    publish_run(feature_run, name="feat", version="v1", root=tmp_path / "weights")
    loaded = load_model("feat/v1", root=tmp_path / "weights")
    assert loaded.kind == "features" and loaded.scoring_model is not None
    write_phantom_series(tmp_path / "series", slices=24, size_px=96, severity="moderate", seed=5)
    analysis = analyse_series(sorted((tmp_path / "series").glob("*.dcm")), loaded=loaded, key_slices=3)
    assert 0.0 <= analysis.covid_probability <= 1.0
    assert sum(analysis.class_probabilities.values()) == pytest.approx(1.0)
    assert len(analysis.slice_scores) > 0 and len(analysis.key_slice_indices) == 3
    assert {o.kind for o in analysis.overlays} == {"lesion"}
    assert analysis.applicability is not None and analysis.applicability.measurements["relative_feature_distance"] is not None
    assert set(analysis.stage_seconds) == {"decode", "quantify", "classify", "aggregate", "domain", "explain"}
