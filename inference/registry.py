"""Named, versioned model weights with model cards: ``inference/weights/<name>/<version>/``.

Each version directory holds the weights file, ``model_card.json`` (machine-readable,
the source of truth), ``model_card.md`` (rendered from it) and ``splits.json``.
``weights/ACTIVE`` names the active ``<name>/<version>``. Keras is imported only
when a model is built or loaded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras

    from inference.domain import FeatureReference

WEIGHTS_ROOT = Path(__file__).resolve().parent / "weights"
ACTIVE_FILE_NAME = "ACTIVE"
CARD_JSON = "model_card.json"
CARD_MARKDOWN = "model_card.md"
_HASH_CHUNK_BYTES = 1 << 20
SLICE_KIND, VOLUME_KIND, FEATURES_KIND = "slice", "volume", "features"  # a card's ``kind``; cards without one are slice models


class ModelNotFoundError(LookupError):
    """No model directory matches the requested name/version."""


class ChecksumMismatchError(RuntimeError):
    """The weights file's SHA-256 differs from the one recorded in its model card."""


@dataclass(frozen=True)
class LoadedModel:
    """A Keras model with its model card and version directory.

    ``scoring_model`` (when the card has a feature reference) shares ``model``'s layers and outputs
    the class probabilities followed by the penultimate features in one array, so the in-domain
    distance (:mod:`inference.domain`) costs no second pass.
    """

    model: keras.Model
    card: dict[str, Any]
    directory: Path
    feature_reference: FeatureReference | None = None
    scoring_model: keras.Model | None = None

    @property
    def positive_index(self) -> int:
        """Return the output index of the COVID-19 class."""
        return int(self.card["class_names"].index(self.card["positive_class"]))

    @property
    def kind(self) -> str:
        """Return what the model classifies: ``"slice"`` (2D, the default), ``"volume"`` (3D) or ``"features"``
        (per-slice lesion features, :mod:`inference.lesion_features`)."""
        return str(self.card.get("kind", SLICE_KIND))

    @property
    def temperature(self) -> float:
        """Return the calibration temperature fitted on the validation split (1.0 = uncalibrated)."""
        return float(self.card.get("calibration", {}).get("temperature", 1.0))


def sha256_file(path: str | Path) -> str:
    """Return the hex SHA-256 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def active_model_name(*, root: Path = WEIGHTS_ROOT) -> str:
    """Return the ``<name>/<version>`` written in ``root/ACTIVE``."""
    active_file = root / ACTIVE_FILE_NAME
    if not active_file.exists():
        raise ModelNotFoundError(f"no active model: {active_file} is missing")
    return active_file.read_text().strip()


def model_directory(name: str | None = None, *, root: Path = WEIGHTS_ROOT) -> Path:
    """Resolve ``None`` (active model), ``<name>`` (latest version) or ``<name>/<version>`` to its directory."""
    reference = active_model_name(root=root) if name is None else name
    directory = root / reference
    if "/" not in reference and directory.is_dir():
        versions = sorted(p for p in directory.iterdir() if (p / CARD_JSON).exists())
        directory = versions[-1] if versions else directory
    if not (directory / CARD_JSON).exists():
        raise ModelNotFoundError(f"no model card at {directory / CARD_JSON}")
    return directory


def model_references(*, root: Path = WEIGHTS_ROOT) -> list[str]:
    """Return every ``<name>/<version>`` under ``root`` that has a model card, sorted."""
    return sorted(f"{card.parent.parent.name}/{card.parent.name}" for card in root.glob(f"*/*/{CARD_JSON}"))


def read_model_card(name: str | None = None, *, root: Path = WEIGHTS_ROOT) -> dict[str, Any]:
    """Return the JSON model card of a model (default: the active one)."""
    card: dict[str, Any] = json.loads((model_directory(name, root=root) / CARD_JSON).read_text())
    return card


def verified_weights_path(directory: Path, card: dict[str, Any]) -> Path:
    """Return the weights path after checking its SHA-256 against the card's ``weights_sha256``."""
    weights = directory / card["weights_file"]
    if not weights.exists():
        raise ModelNotFoundError(f"weights file missing: {weights}")
    actual = sha256_file(weights)
    if actual != card["weights_sha256"]:
        raise ChecksumMismatchError(
            f"checksum mismatch for {weights}: model card says sha256 {card['weights_sha256']}, file has {actual}; "
            "the weights were changed or corrupted — retrain or restore them"
        )
    return weights


def load_model(name: str | None = None, *, root: Path = WEIGHTS_ROOT) -> LoadedModel:
    """Build the card's architecture, verify the weights checksum and load them (default: the active model)."""
    from inference.device import configure_precision

    configure_precision()
    directory = model_directory(name, root=root)
    card = read_model_card(str(directory.relative_to(root)), root=root)
    weights = verified_weights_path(directory, card)
    model = _build_from_card(card)
    model.load_weights(weights)
    reference_file = card.get("domain", {}).get("feature_reference_file")
    if not reference_file:
        return LoadedModel(model, card, directory)
    from inference.domain import FeatureReference

    return LoadedModel(model, card, directory, FeatureReference.load(str(directory / reference_file)), scoring_model_of(model))


def scoring_model_of(model: keras.Model) -> keras.Model:
    """Return a model sharing ``model``'s layers whose output is [probabilities | penultimate features] (float32)."""
    import keras

    from inference.models import EMBEDDING_LAYER

    joined = keras.layers.Concatenate(axis=-1, dtype="float32", name="probabilities_and_features")(
        [model.output, model.get_layer(EMBEDDING_LAYER).output])
    return keras.Model(model.input, joined, name=f"{model.name}_scoring")


def _build_from_card(card: dict[str, Any]) -> keras.Model:
    """Build the untrained architecture a card names, by its ``kind``."""
    if card.get("kind", SLICE_KIND) == VOLUME_KIND:
        from inference.models.covidnet3d import build_volume_model
        from inference.volume_preprocess import geometry_from_card

        return build_volume_model(card["variant"], geometry=geometry_from_card(card))
    if card.get("kind") == FEATURES_KIND:
        from inference.models.lesion_mlp import build_feature_model

        return build_feature_model(mean=card["feature_mean"], variance=card["feature_variance"], num_classes=len(card["class_names"]))
    from inference.models import build_model

    return build_model(card["variant"], input_size_px=int(card["input_size_px"]), num_classes=len(card["class_names"]))


def write_model_card(directory: str | Path, card: dict[str, Any]) -> None:
    """Write ``model_card.json`` and its Markdown rendering ``model_card.md`` into ``directory``."""
    target = Path(directory)
    (target / CARD_JSON).write_text(json.dumps(card, indent=2) + "\n")
    (target / CARD_MARKDOWN).write_text(render_model_card_markdown(card))


def _format_metric(metric: dict[str, Any]) -> str:
    if metric["value"] is None:
        return "undefined"
    interval = metric.get("ci95")
    return f"{metric['value']:.3f}" + (f" (95 % CI {interval[0]:.3f}–{interval[1]:.3f})" if interval else "")


def render_model_card_markdown(card: dict[str, Any]) -> str:
    """Render a model card dict as Markdown (metrics table plus every descriptive section)."""
    lines = [f"# Model card: {card['name']} {card['version']}", ""]
    lines += [f"- **kind**: {card.get('kind', 'slice')}"]
    lines += [f"- **{key.replace('_', ' ')}**: {card[key]}" for key in
              ("variant", "input_size_px", "input_geometry", "class_names", "positive_class", "params", "flops_per_slice",
               "weights_file", "weights_sha256", "created_utc") if key in card]
    metrics = card.get("test_metrics", {})
    if metrics:
        lines += ["", f"## Test metrics (n = {metrics['n']}, threshold {metrics['threshold']})", "",
                  "| metric | value (95 % bootstrap CI) |", "|---|---|"]
        lines += [f"| {name} | {_format_metric(value)} |" for name, value in metrics.items() if isinstance(value, dict)]
        lines += ["", f"Confusion matrix [[TN, FP], [FN, TP]]: {metrics['confusion_matrix']}"]
    lines += _render_validation(card.get("validation", {}))
    for section in ("intended_use", "data_description", "data", "split", "calibration", "aggregation", "training", "reproduce",
                    "model_selection", "domain", "domain_check_results", "figure_crop_evaluation", "comparison_with_paper",
                    "external_check", "ensemble", "limitations"):
        if section in card:
            lines += ["", f"## {section.replace('_', ' ').capitalize()}", ""]
            value = card[section]
            lines += [f"- **{k.replace('_', ' ')}**: {v}" for k, v in value.items()] if isinstance(value, dict) else [str(value)]
    return "\n".join(lines) + "\n"


def _render_validation(validation: dict[str, Any]) -> list[str]:
    """Render held-out real-HU metrics: one row per volume and pooled, then the study probabilities."""
    slices = validation.get("real_hu_slices")
    if not slices:
        return []
    lines = ["", "## Held-out validation on real HU volumes", "",
             "| held-out slices | n | infected | infection AUC, 1 − P(normal) (95 % CI) | COVID-19 AUC, P(covid) (95 % CI) |",
             "|---|---|---|---|---|"]
    for name, row in [*slices["per_fold"].items(), ("pooled", slices["pooled"])]:
        cells = [_format_metric(row[key]["auc"]) if key in row else "undefined (one class)" for key in ("infection_vs_none", "covid_vs_rest")]
        lines.append(f"| {name} | {row['n']} | {row['infected']} | {cells[0]} | {cells[1]} |")
    studies = validation.get("real_hu_studies", {})
    if studies:
        lines += ["", "| held-out study | class | COVID-19 probability | infection probability |", "|---|---|---|---|"]
        for name, scores in studies["held_out_study_probabilities"].items():
            lines.append(f"| {name} | {studies['study_class'][name]} | {scores['covid_probability']:.3f} | "
                         f"{scores['infection_probability']:.3f} |")
        lines += ["", f"Every COVID-19/CAP study above every normal one (COVID-19 probability): "
                      f"{studies['every_pneumonia_above_every_normal']}"]
    return lines + _render_extra_domains(validation)


def _render_extra_domains(validation: dict[str, Any]) -> list[str]:
    """Render the held-out synthetic-lesion slices and the external NY-SBU slices, when the card has them."""
    lines = []
    synthetic = validation.get("synthetic_held_out")
    if synthetic:
        lines += ["", "| held-out volume's synthetic lesions | n | vs its real normal slices, AUC (95 % CI) | COVID-19 vs pneumonia, AUC (95 % CI) |",
                  "|---|---|---|---|"]
        for name, row in synthetic.items():
            cells = [_format_metric(row[key]["auc"]) if key in row else "undefined" for key in ("infection_vs_real_normal", "covid_vs_pneumonia")]
            lines.append(f"| {name} | {row['n']} | {cells[0]} | {cells[1]} |")
    external = validation.get("nysbu_slices_held_out")
    if external:
        lines += ["", f"NY-SBU slices held out ({external['n']} slices, {external['patients']} COVID-19 patients): "
                      f"argmax COVID-19 {external['share_argmax_covid']:.2f}, argmax not normal {external['share_argmax_not_normal']:.2f}, "
                      f"median P(covid) {external['median_p_covid']:.2f} ({external['note']})"]
    return lines


def publish_run(
    run_dir: str | Path, *, name: str, version: str, root: Path = WEIGHTS_ROOT, activate: bool = True,
    notes: dict[str, Any] | None = None,
) -> Path:
    """Copy a run's weights, card and split file into ``root/<name>/<version>``; optionally activate it.

    ``notes`` (e.g. ``limitations``, ``comparison_with_paper``) are added to the card;
    they cannot overwrite measured fields that already exist in it.
    """
    source = Path(run_dir)
    card = json.loads((source / CARD_JSON).read_text())
    clashes = sorted(set(notes or {}) & set(card))
    if clashes:
        raise ValueError(f"notes may only add card fields, not overwrite {clashes}")
    card.update(notes or {}, name=name, version=version)
    # A class-folder slice recipe: its test split is re-evaluated by inference.evaluate; volume cards
    # and HU-volume slice cards carry their own reproduce commands.
    if card.get("kind", SLICE_KIND) == SLICE_KIND and "test_metrics" in card:
        card.setdefault("reproduce", {})["evaluate"] = (
            f"python -m inference.evaluate --data {card['data']['root']} --model {name}/{version} "
            f"--split-file inference/weights/{name}/{version}/{card['split_file']} --json OUT.json"
        )
    target = root / name / version
    target.mkdir(parents=True, exist_ok=False)
    for file_name in (card["weights_file"], card["split_file"], *card.get("extra_files", [])):
        shutil.copy2(source / file_name, target / file_name)
    verified_weights_path(target, card)
    write_model_card(target, card)
    if activate:
        (root / ACTIVE_FILE_NAME).write_text(f"{name}/{version}\n")
    return target


def main(argv: list[str] | None = None) -> None:
    """Publish a training run: ``python -m inference.registry publish RUN_DIR --name N --version V [--notes F.json]``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    publish = commands.add_parser("publish", help="copy a run into inference/weights/<name>/<version>")
    publish.add_argument("run_dir", type=Path)
    publish.add_argument("--name", required=True)
    publish.add_argument("--version", required=True)
    publish.add_argument("--notes", type=Path, help="JSON object of descriptive card fields to add")
    publish.add_argument("--no-activate", action="store_true")
    args = parser.parse_args(argv)
    notes = json.loads(args.notes.read_text()) if args.notes else None
    target = publish_run(args.run_dir, name=args.name, version=args.version, activate=not args.no_activate, notes=notes)
    print(f"published {target}")


if __name__ == "__main__":
    main()
