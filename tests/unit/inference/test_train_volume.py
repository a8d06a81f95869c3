"""Tests of inference.train_volume: a tiny run end to end, resuming, and the card it writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference import train_volume
from inference.registry import load_model, publish_run
from inference.volume_data import write_phantom_training_folder

TINY_ARGS = ["--slices", "8", "--resize-px", "32", "--crop-px", "24", "--batch-size", "4"]


@pytest.fixture(scope="module")
def phantom_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phantoms")
    write_phantom_training_folder(folder, count=12, slices=8, size_px=64, seed=2)
    return folder


@pytest.mark.slow
def test_main__resumes_from_the_checkpoint_and_writes_a_volume_card(phantom_folder, tmp_path):
    out = tmp_path / "run"
    args = ["--data", str(phantom_folder), "--out", str(out), *TINY_ARGS]
    train_volume.main([*args, "--epochs", "1"])
    first_state = json.loads((out / "state.json").read_text())
    card = train_volume.main([*args, "--epochs", "2", "--external", str(phantom_folder)])
    history = json.loads((out / "history.json").read_text())
    assert first_state["epoch"] == 1 and [row["epoch"] for row in history] == [1, 2]
    assert history[0] == first_state["history"][0]  # epoch 1 was not run again
    assert card["kind"] == "volume" and card["input_geometry"] == {"slices": 8, "resize_px": 32, "crop_px": 24}
    split = json.loads((out / "splits.json").read_text())
    assert sum(len(v) for v in split.values()) == 12 and not set(split["train"]) & set(split["test"])
    assert card["test_metrics"]["n"] == len(split["test"]) and "ci95" in card["test_metrics"]["auc"]
    assert list(card["test_metrics_by_source"]) == [phantom_folder.name]
    assert len(card["external_check"]["cases"]) == 12

    root = tmp_path / "weights"
    publish_run(out, name="tiny3d", version="v1", root=root, activate=False)
    loaded = load_model("tiny3d/v1", root=root)
    assert loaded.kind == "volume" and loaded.model.input_shape == (None, 8, 24, 24, 1)
    assert "evaluate" not in loaded.card["reproduce"]


def test_parse_args__labels_must_pair_with_data():
    with pytest.raises(SystemExit):
        train_volume.parse_args(["--data", "a", "--data", "b", "--labels", "x.csv", "--out", "o"])


def test_epoch_batches__same_epoch_same_order_whatever_ran_before():
    first = train_volume._epoch_batches(10, batch_size=4, seed=3, epoch=2)
    again = train_volume._epoch_batches(10, batch_size=4, seed=3, epoch=2)
    assert [b.tolist() for b in first] == [b.tolist() for b in again]
    assert sorted(np.concatenate(first).tolist()) == list(range(10))
