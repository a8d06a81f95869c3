"""Tests of inference.registry: publishing, active model, checksum verification, card rendering."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference.registry import (
    CARD_JSON,
    ChecksumMismatchError,
    ModelNotFoundError,
    active_model_name,
    load_model,
    model_directory,
    read_model_card,
    render_model_card_markdown,
    sha256_file,
)


def test_sha256_file__matches_hashlib(tmp_path):
    import hashlib

    path = tmp_path / "w.bin"
    path.write_bytes(b"weights" * 1000)
    assert sha256_file(path) == hashlib.sha256(b"weights" * 1000).hexdigest()


def test_publish_run__writes_card_and_marks_active(published_tiny):
    assert active_model_name(root=published_tiny) == "tiny/v1"
    card = read_model_card(root=published_tiny)
    assert card["name"] == "tiny" and card["version"] == "v1"
    assert (published_tiny / "tiny" / "v1" / "model_card.md").read_text().startswith("# Model card: tiny v1")
    assert model_directory("tiny", root=published_tiny) == published_tiny / "tiny" / "v1"


def test_load_model__loads_active_model_with_card(published_tiny, tiny_run):
    loaded = load_model(root=published_tiny)
    assert loaded.card["class_names"] == ["covid", "non-covid"] and loaded.positive_index == 0
    size = loaded.card["input_size_px"]
    slices = np.zeros((1, size, size, 1), np.uint8)
    assert np.asarray(loaded.model.predict(slices, verbose=0)).shape == (1, 2)
    assert loaded.temperature == pytest.approx(json.loads((tiny_run / CARD_JSON).read_text())["calibration"]["temperature"])


def test_load_model__raises_on_checksum_mismatch(published_tiny):
    weights = published_tiny / "tiny" / "v1" / read_model_card(root=published_tiny)["weights_file"]
    weights.write_bytes(weights.read_bytes() + b"tampered")
    with pytest.raises(ChecksumMismatchError, match="checksum mismatch"):
        load_model("tiny/v1", root=published_tiny)


def test_model_directory__raises_for_unknown_model_or_missing_active(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no active model"):
        model_directory(root=tmp_path)
    with pytest.raises(ModelNotFoundError, match="no model card"):
        model_directory("absent/v9", root=tmp_path)


def test_render_model_card_markdown__shows_metrics_with_intervals():
    card = {"name": "m", "version": "1", "test_metrics": {"n": 4, "threshold": 0.5, "confusion_matrix": [[1, 1], [0, 2]],
                                                           "auc": {"value": 0.75, "ci95": [0.5, 1.0]}, "npv": {"value": None, "ci95": None}}}
    text = render_model_card_markdown(card)
    assert "| auc | 0.750 (95 % CI 0.500–1.000) |" in text and "| npv | undefined |" in text


def test_shipped_active_model__checksum_matches_its_card():
    try:
        directory = model_directory()
    except ModelNotFoundError:
        pytest.skip("no model shipped yet under inference/weights")
    card = read_model_card()
    assert sha256_file(directory / card["weights_file"]) == card["weights_sha256"]


def test_publish_run__adds_notes_but_refuses_to_overwrite_measurements(tmp_path, tiny_run):
    from inference.registry import publish_run

    publish_run(tiny_run, name="m", version="1", root=tmp_path, notes={"limitations": "tiny"})
    assert read_model_card("m/1", root=tmp_path)["limitations"] == "tiny"
    with pytest.raises(ValueError, match="overwrite"):
        publish_run(tiny_run, name="m", version="2", root=tmp_path, notes={"test_metrics": {}})


def test_publish_run__records_the_evaluate_command_of_the_published_version(published_tiny):
    command = read_model_card(root=published_tiny)["reproduce"]["evaluate"]
    assert "--model tiny/v1" in command and "--split-file inference/weights/tiny/v1/splits.json" in command
