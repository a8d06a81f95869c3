"""Train a slice classifier on a class-folder dataset and write weights plus a model card.

``python -m inference.train --data DIR --model s --size 256 --epochs 30 --out RUN_DIR [--seed 0]``

With ``--data TABLE.npz`` (a real-HU slice table from :mod:`inference.hu_dataset`) the run is the
3-class, leave-one-volume-out recipe of :mod:`inference.train_hu`; a lesion-feature table from
:mod:`inference.feature_dataset` (it holds ``features``) trains the feature model of
:mod:`inference.train_features`. Otherwise, for a class-folder dataset: the split is patient-level (see :mod:`inference.datasets`); batches are class-balanced
and augmented (:mod:`inference.augment`); the checkpoint with the best validation AUC
is kept (early stopping; ``checkpoint.weights.h5`` also holds the optimizer state, ``model.weights.h5``
only the layers); a temperature fitted on validation calibrates the test figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from inference.aggregate import DEFAULT_TOP_K, STUDY_RULE, apply_temperature, fit_temperature, logits_from_probabilities
from inference.augment import augment_batch
from inference.datasets import SliceDataset, list_slice_dataset, load_model_inputs, patient_groups, patient_level_split, write_split_file
from inference.metrics import binary_metrics, expected_calibration_error
from inference.registry import sha256_file, write_model_card

WEIGHTS_FILE = "model.weights.h5"
CHECKPOINT_FILE = "checkpoint.weights.h5"
SPLIT_FILE = "splits.json"
HISTORY_FILE = "history.json"


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (recorded in the model card)."""

    data: str
    model: str
    size: int
    epochs: int
    out: str
    seed: int = 0
    batch_size: int = 16
    learning_rate: float = 5e-4
    optimizer: str = "adam"
    patience: int = 8
    steps_per_epoch: int | None = None
    augment_probability: float = 0.5
    folds: bool = True
    n_boot: int = 10000


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """Parse the command line into a :class:`TrainConfig`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="directory with one subfolder of slice images per class")
    parser.add_argument("--model", choices=("s", "l"), default="s", help="model variant")
    parser.add_argument("--size", type=int, default=512, help="input side in pixels")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--out", required=True, help="run directory (created)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=5e-4, help="paper: 5e-4")
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help="sgd = momentum 0.9 as in the paper")
    parser.add_argument("--patience", type=int, default=8, help="epochs without validation-AUC gain before stopping")
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="default: training images / batch size")
    parser.add_argument("--no-folds", dest="folds", action="store_false",
                        help="slice tables only: train the final model without the leave-one-volume-out folds")
    parser.add_argument("--n-boot", type=int, default=10000, help="bootstrap resamples of the validation CIs")
    args = parser.parse_args(argv)
    return TrainConfig(**{key: value for key, value in vars(args).items()})


def balanced_batches(labels: np.ndarray, *, batch_size: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``(steps, batch_size)`` training indices with every class equally likely (with replacement)."""
    class_counts = np.bincount(labels)
    weights = 1.0 / class_counts[labels]
    return rng.choice(labels.size, size=(steps, batch_size), p=weights / weights.sum())


def _positive_scores(probabilities: np.ndarray, positive_index: int) -> np.ndarray:
    return probabilities[:, positive_index]


def _validation_auc(model: Any, images: np.ndarray, is_positive: np.ndarray, positive_index: int, batch_size: int) -> float:
    probabilities = model.predict(images[..., np.newaxis], batch_size=batch_size, verbose=0)
    auc = binary_metrics(is_positive, _positive_scores(probabilities, positive_index), n_boot=0)["auc"]["value"]
    return float("nan") if auc is None else float(auc)


def _hardware_description() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS", "default")
    return f"{cpu}; {os.cpu_count()} cores visible, intra-op threads {threads}; no GPU"


def _make_optimizer(config: TrainConfig) -> Any:
    import keras

    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=config.learning_rate, momentum=0.9)
    return keras.optimizers.Adam(learning_rate=config.learning_rate)


def compile_for_training(model: Any, *, optimizer: Any, loss: str) -> None:
    """Compile ``model`` and create its optimizer's variables now.

    Left to the first ``train_on_batch``, TensorFlow traces the train step twice (the first trace
    creates the variables): on CPU that second trace is about half the cost of a short run.
    """
    model.compile(optimizer=optimizer, loss=loss)
    model.optimizer.build(model.trainable_variables)


def fit(config: TrainConfig, *, dataset: SliceDataset, splits: dict[str, np.ndarray], images: np.ndarray) -> tuple[Any, list[dict[str, float]]]:
    """Train with class-balanced augmented batches; keep the best-validation-AUC weights in ``config.out``."""
    import keras

    from inference.models import build_model

    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = build_model(config.model, input_size_px=config.size, num_classes=len(dataset.class_names))
    compile_for_training(model, optimizer=_make_optimizer(config), loss="sparse_categorical_crossentropy")
    train_labels = dataset.labels[splits["train"]]
    val_images = images[splits["val"]]
    val_positive = dataset.labels[splits["val"]] == dataset.positive_index
    steps = config.steps_per_epoch or max(1, int(np.ceil(splits["train"].size / config.batch_size)))
    best_auc, best_epoch, history = -np.inf, -1, []
    for epoch in range(config.epochs):
        started = time.perf_counter()
        losses = []
        batches = balanced_batches(train_labels, batch_size=config.batch_size, steps=steps, rng=rng)
        for batch in tqdm(batches, desc=f"epoch {epoch + 1}/{config.epochs}", file=sys.stdout, leave=False):
            rows = splits["train"][batch]
            x = augment_batch(images[rows], rng=rng, p=config.augment_probability)[..., np.newaxis]
            losses.append(float(model.train_on_batch(x, dataset.labels[rows])))
        val_auc = _validation_auc(model, val_images, val_positive, dataset.positive_index, config.batch_size)
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_auc": val_auc,
                        "seconds": time.perf_counter() - started})
        print(f"epoch {epoch + 1}: train loss {history[-1]['train_loss']:.4f}  val AUC {val_auc:.4f}  "
              f"({history[-1]['seconds']:.0f} s)", flush=True)
        if val_auc > best_auc:
            best_auc, best_epoch = val_auc, epoch
            model.save_weights(Path(config.out) / CHECKPOINT_FILE)
        elif epoch - best_epoch >= config.patience:
            print(f"early stop: no validation-AUC gain for {config.patience} epochs", flush=True)
            break
    model.load_weights(Path(config.out) / CHECKPOINT_FILE)
    save_inference_weights(model, Path(config.out) / WEIGHTS_FILE, config=config, num_classes=len(dataset.class_names))
    return model, history


def save_inference_weights(model: Any, path: Path, *, config: TrainConfig, num_classes: int) -> None:
    """Save only the layer weights (no optimizer state, about a third of the checkpoint's size)."""
    from inference.models import build_model

    clean = build_model(config.model, input_size_px=config.size, num_classes=num_classes)
    clean.set_weights(model.get_weights())
    clean.save_weights(path)


def evaluate_calibrated(
    model: Any, *, dataset: SliceDataset, splits: dict[str, np.ndarray], images: np.ndarray, batch_size: int
) -> dict[str, Any]:
    """Fit the temperature on validation, then return test metrics and ECE before/after calibration."""
    positive = dataset.positive_index
    raw = {name: model.predict(images[idx][..., np.newaxis], batch_size=batch_size, verbose=0) for name, idx in splits.items() if name != "train"}
    temperature = fit_temperature(logits_from_probabilities(raw["val"]), dataset.labels[splits["val"]])
    calibrated = apply_temperature(logits_from_probabilities(raw["test"]), temperature=temperature)
    test_positive = dataset.labels[splits["test"]] == positive
    return {
        "temperature": temperature,
        "test_metrics": binary_metrics(test_positive, _positive_scores(calibrated, positive)),
        "ece_test_before": expected_calibration_error(test_positive, _positive_scores(raw["test"], positive)),
        "ece_test_after": expected_calibration_error(test_positive, _positive_scores(calibrated, positive)),
    }


def build_card_common(config: TrainConfig, *, class_names: tuple[str, ...], positive_class: str, model: Any,
                      wall_clock_s: float, argv: list[str]) -> dict[str, Any]:
    """Return the card fields every training recipe shares (identity, architecture, weights, training)."""
    import keras

    from inference.models.flops import FLOPS_DEFINITION, model_flops

    return {
        "name": Path(config.out).name, "version": datetime.now(UTC).strftime("%Y-%m-%d"),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "variant": config.model, "input_size_px": config.size, "class_names": list(class_names),
        "positive_class": positive_class,
        "params": int(model.count_params()), "flops_per_slice": f"{model_flops(model):,} ({FLOPS_DEFINITION})",
        "weights_file": WEIGHTS_FILE, "weights_sha256": sha256_file(Path(config.out) / WEIGHTS_FILE), "split_file": SPLIT_FILE,
        "training": {**asdict(config), "wall_clock_s": round(wall_clock_s, 1), "hardware": _hardware_description(),
                     "framework": f"keras {keras.__version__} ({keras.backend.backend()} backend)",
                     "augmentation": "each p=0.5: crop-box jitter, rotation ±15°, shear, horizontal flip, intensity shift/scale",
                     "sampling": "class-balanced batches (with replacement)"},
        "reproduce": {"train": "python -m inference.train " + shlex.join(argv)},
    }


def build_card(config: TrainConfig, *, dataset: SliceDataset, splits: dict[str, np.ndarray], grouping: str, model: Any,
               history: list[dict[str, float]], evaluation: dict[str, Any], wall_clock_s: float, argv: list[str]) -> dict[str, Any]:
    """Assemble the model card of a finished class-folder run (descriptive fields can be edited before publishing)."""
    best = max(history, key=lambda row: row["val_auc"] if np.isfinite(row["val_auc"]) else -1)
    counts = {name: {cls: int((dataset.labels[idx] == i).sum()) for i, cls in enumerate(dataset.class_names)} for name, idx in splits.items()}
    card = build_card_common(config, class_names=dataset.class_names, positive_class=dataset.class_names[dataset.positive_index],
                             model=model, wall_clock_s=wall_clock_s, argv=argv)
    card["training"].update(epochs_run=len(history), best_epoch=int(best["epoch"]), best_val_auc=best["val_auc"])
    card.update({
        "input": "uint8 grey levels (n, size, size, 1), normalised inside the model; images padded to square and resized",
        "calibration": {"method": "temperature scaling of log-probabilities, NLL fitted on the validation split",
                        "temperature": evaluation["temperature"], "ece_test_before": evaluation["ece_test_before"],
                        "ece_test_after": evaluation["ece_test_after"], "ece_bins": 10},
        "aggregation": {"rule": STUDY_RULE, "top_k": DEFAULT_TOP_K},
        "data": {"root": str(dataset.root), "images": len(dataset.relative_paths)},
        "split": {"grouping": grouping, "seed": config.seed, "images_per_split_and_class": counts},
        "test_metrics": evaluation["test_metrics"],
    })
    return card


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the training CLI and return the model card it wrote."""
    arguments = sys.argv[1:] if argv is None else argv
    config = parse_args(arguments)
    if config.data.endswith(".npz"):
        from inference.train_features import is_feature_table
        from inference.train_features import run as run_features
        from inference.train_hu import run

        return (run_features if is_feature_table(config.data) else run)(config, argv=arguments)
    started = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    dataset = list_slice_dataset(config.data)
    groups, grouping = patient_groups(dataset)
    splits = patient_level_split(groups, dataset.labels, seed=config.seed)
    write_split_file(out / SPLIT_FILE, dataset=dataset, split_indices=splits, grouping=grouping)
    print(f"{dataset.class_names}: " + ", ".join(f"{k} {v.size}" for k, v in splits.items()) + f" images ({grouping})", flush=True)
    images = load_model_inputs(dataset, size_px=config.size)
    model, history = fit(config, dataset=dataset, splits=splits, images=images)
    evaluation = evaluate_calibrated(model, dataset=dataset, splits=splits, images=images, batch_size=config.batch_size)
    (out / HISTORY_FILE).write_text(json.dumps(history, indent=1) + "\n")
    card = build_card(config, dataset=dataset, splits=splits, grouping=grouping, model=model, history=history,
                      evaluation=evaluation, wall_clock_s=time.perf_counter() - started, argv=arguments)
    write_model_card(out, card)
    metrics = card["test_metrics"]
    print(f"test AUC {metrics['auc']['value']}  sensitivity {metrics['sensitivity']['value']}  "
          f"specificity {metrics['specificity']['value']}  T={evaluation['temperature']:.3f}", flush=True)
    return card


if __name__ == "__main__":
    main()
