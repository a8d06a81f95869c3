"""Tests of inference.evaluate: JSON report, plots, and reproduction of the card's test figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from inference.evaluate import main
from inference.registry import ModelNotFoundError, model_directory, read_model_card
from tests.unit.inference.factories import require_shared


def test_main__reproduces_card_test_metrics_from_split_file(published_tiny, tiny_dataset, tmp_path):
    out = tmp_path / "report" / "eval.json"
    split_file = published_tiny / "tiny" / "v1" / "splits.json"
    main(["--data", str(tiny_dataset), "--model", "tiny/v1", "--weights-root", str(published_tiny),
          "--split-file", str(split_file), "--json", str(out)])
    report = json.loads(out.read_text())
    card = read_model_card("tiny/v1", root=published_tiny)["test_metrics"]
    assert report["n"] == card["n"] and report["confusion_matrix"] == card["confusion_matrix"]
    assert report["metrics"]["auc"] == card["auc"]
    for name in ("roc", "reliability"):
        with Image.open(out.with_name(f"eval_{name}.png")) as image:
            assert image.size[0] > 100


def test_main__evaluates_whole_folder_without_split_file(published_tiny, tiny_dataset, tmp_path):
    out = tmp_path / "all.json"
    report = main(["--data", str(tiny_dataset), "--weights-root", str(published_tiny), "--json", str(out), "--n-boot", "50"])
    assert report["n"] == 12 and sum(map(sum, report["confusion_matrix"])) == 12
    assert report["positive_class"] == "covid"


def test_main__reproduces_shipped_model_card_on_its_test_split(tmp_path):
    try:
        directory = model_directory()
    except ModelNotFoundError:
        pytest.skip("no model shipped yet under inference/weights")
    card = read_model_card()
    if card.get("kind") == "features":  # scores HU volumes, not images: its input must still be what the code computes
        from inference.lesion_features import FEATURE_NAMES
        from inference.registry import load_model

        assert card["feature_names"] == list(FEATURE_NAMES), "lesion features changed: rebuild the table and retrain"
        assert load_model().model.input_shape == (None, len(FEATURE_NAMES))
        return
    if "figure_crop_evaluation" in card:  # HU-trained model: its figure-crop (auxiliary domain) figures
        evaluation = card["figure_crop_evaluation"]
        split_file = evaluation["command"].split("--split-file ")[1].split()[0]
        report = main(["--data", str(require_shared("ucsd-covid-ct")), "--split-file", split_file, "--split", "test",
                       "--json", str(tmp_path / "shipped.json"), "--n-boot", "0"])
        assert report["n"] == evaluation["n"]
        assert report["metrics"]["auc"]["value"] == pytest.approx(float(evaluation["auc"].split()[0]), abs=1e-3)
        return
    require_shared(Path(card["data"]["root"]).name)
    report = main(["--data", card["data"]["root"], "--split-file", str(directory / card["split_file"]),
                   "--json", str(tmp_path / "shipped.json"), "--n-boot", "0"])
    assert report["confusion_matrix"] == card["test_metrics"]["confusion_matrix"]
    assert report["metrics"]["auc"]["value"] == pytest.approx(card["test_metrics"]["auc"]["value"], abs=1e-6)
