"""Tests of inference.train: a two-step run on tiny synthetic data writes a complete run directory."""

from __future__ import annotations

import json

import numpy as np

from inference.registry import sha256_file
from inference.train import CHECKPOINT_FILE, SPLIT_FILE, WEIGHTS_FILE, balanced_batches, parse_args


def test_main__two_step_run_writes_weights_card_and_splits(tiny_run):
    card = json.loads((tiny_run / "model_card.json").read_text())
    assert card["weights_sha256"] == sha256_file(tiny_run / WEIGHTS_FILE)
    assert card["class_names"] == ["covid", "non-covid"] and card["training"]["epochs_run"] == 1
    assert set(card["test_metrics"]) >= {"n", "confusion_matrix", "auc", "sensitivity", "specificity"}
    assert card["calibration"]["temperature"] > 0
    splits = json.loads((tiny_run / SPLIT_FILE).read_text())
    assert sorted(splits["train"] + splits["val"] + splits["test"]) == sorted(
        f"{c}/paper{i}-p1-{i}.png" for c in ("covid", "non-covid") for i in range(6))
    assert (tiny_run / "model_card.md").exists()


def test_main__ships_weights_without_optimizer_state(tiny_run):
    import h5py

    with h5py.File(tiny_run / WEIGHTS_FILE, "r") as shipped, h5py.File(tiny_run / CHECKPOINT_FILE, "r") as checkpoint:
        assert "optimizer" not in shipped and "optimizer" in checkpoint


def test_balanced_batches__draw_classes_equally_often():
    labels = np.array([0] * 90 + [1] * 10)
    batches = balanced_batches(labels, batch_size=50, steps=40, rng=np.random.default_rng(0))
    assert batches.shape == (40, 50)
    assert abs(labels[batches].mean() - 0.5) < 0.03


def test_parse_args__defaults_follow_the_paper_learning_rate():
    config = parse_args(["--data", "d", "--out", "o"])
    assert config.learning_rate == 5e-4 and config.model == "s" and config.size == 512
