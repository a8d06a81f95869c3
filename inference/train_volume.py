"""Train the 3D volume classifier (COVIDNet 3D) on labelled volume folders, resumably.

    python -m inference.train_volume --data DIR [--labels CSV] [--data DIR2 ...] \\
        [--external DIR --external-labels CSV] --out runs/covidnet3d-shallow

Each ``--data`` folder is read by :func:`inference.volume_data.read_training_folder` (DICOM series
folders or NIfTI files plus ``labels.csv``, e.g. the output of ``manage.py export_training_set``);
``--labels`` names a labels file kept outside a read-only folder (one per ``--data``, ``-`` for the
folder's own). Cases are split train/val/test at the patient level. Recipe of the paper: Adam 1e-3,
binary cross-entropy, batch 8; here with a left-right flip (p = 0.5) as the only augmentation. Every
epoch writes a full checkpoint; running the same command again continues from it. The best epoch
(validation AUC, then loss) is kept, its temperature fitted on validation, and the test split scored
with 10,000-sample bootstrap CIs, overall and per data source. ``--external`` volumes are never
trained or selected on; they are only scored, case by case.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from inference.aggregate import apply_temperature, fit_temperature, logits_from_probabilities
from inference.datasets import patient_level_split
from inference.metrics import binary_metrics, expected_calibration_error
from inference.registry import VOLUME_KIND, sha256_file, write_model_card
from inference.volume_data import TrainingCase, read_case_volume, read_training_folder
from inference.volume_preprocess import VolumeGeometry, prepare_volume

CLASS_NAMES = ("covid", "non-covid")
WEIGHTS_FILE = "model.weights.h5"
SPLIT_FILE = "splits.json"
CHECKPOINT_FILE = "checkpoint.keras"
BEST_WEIGHTS_FILE = "best.weights.h5"
STATE_FILE = "state.json"
HISTORY_FILE = "history.json"
MIN_CASES_FOR_CI = 20


@dataclass(frozen=True)
class VolumeTrainConfig:
    """Every choice of a training run (recorded in the model card)."""

    data: tuple[str, ...]
    labels: tuple[str, ...]
    external: str | None
    external_labels: str | None
    out: str
    variant: str = "shallow"
    slices: int = 32
    resize_px: int = 128
    crop_px: int = 96
    epochs: int = 20
    patience: int = 6
    batch_size: int = 8
    learning_rate: float = 1e-3
    seed: int = 0

    @property
    def geometry(self) -> VolumeGeometry:
        """Return the model-input geometry."""
        return VolumeGeometry(self.slices, self.resize_px, self.crop_px)


def parse_args(argv: list[str]) -> VolumeTrainConfig:
    """Parse the command line into a config."""
    from inference.models.covidnet3d import VOLUME_VARIANTS

    parser = argparse.ArgumentParser(prog="python -m inference.train_volume", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", action="append", required=True, help="training folder (repeatable)")
    parser.add_argument("--labels", action="append", default=[], help="labels CSV per --data ('-': DIR/labels.csv)")
    parser.add_argument("--external", help="folder scored only, never trained or selected on")
    parser.add_argument("--external-labels")
    parser.add_argument("--out", required=True)
    parser.add_argument("--variant", choices=sorted(VOLUME_VARIANTS), default="shallow")
    parser.add_argument("--slices", type=int, default=32)
    parser.add_argument("--resize-px", type=int, default=128)
    parser.add_argument("--crop-px", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.data):
        parser.error(f"give --labels once per --data ({len(args.data)}), or not at all")
    values = vars(args) | {"data": tuple(args.data), "labels": tuple(args.labels or ["-"] * len(args.data))}
    return VolumeTrainConfig(**values)


def read_cases(folders: tuple[str, ...], labels: tuple[str, ...]) -> list[TrainingCase]:
    """Read the cases of every folder (``-``: the folder's own labels.csv)."""
    return [case for folder, csv_path in zip(folders, labels)
            for case in read_training_folder(folder, labels_csv=None if csv_path == "-" else csv_path)]


def model_inputs(cases: list[TrainingCase], *, geometry: VolumeGeometry) -> np.ndarray:
    """Read and preprocess every case once: float32 ``(n, slices, crop, crop)``."""
    from tqdm import tqdm

    return np.stack([prepare_volume(read_case_volume(case.path).hu, geometry=geometry)
                     for case in tqdm(cases, desc="preprocess", unit="volume")])


def _compiled_model(config: VolumeTrainConfig) -> Any:
    import keras

    from inference.models.covidnet3d import build_volume_model
    from inference.train import compile_for_training

    keras.utils.set_random_seed(config.seed)
    model = build_volume_model(config.variant, geometry=config.geometry)
    compile_for_training(model, optimizer=keras.optimizers.Adam(config.learning_rate), loss="binary_crossentropy")
    return model


def _predict(model: Any, volumes: np.ndarray, *, batch_size: int) -> np.ndarray:
    return np.asarray(model.predict(volumes[..., np.newaxis], batch_size=batch_size, verbose=0), np.float64)[:, 0]


def _binary_cross_entropy(labels: np.ndarray, probabilities: np.ndarray) -> float:
    p = np.clip(probabilities, 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def _epoch_batches(n: int, *, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Shuffle by a seed of the epoch itself, so a resumed run sees the batches an unbroken one would."""
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]


def fit(config: VolumeTrainConfig, *, volumes: np.ndarray, labels: np.ndarray,
        splits: dict[str, np.ndarray]) -> list[dict[str, float]]:
    """Train with a checkpoint per epoch (resuming from one if present); keep the best epoch's weights."""
    import keras
    from tqdm import tqdm

    out = Path(config.out)
    state_path = out / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.exists() else {"epoch": 0, "history": [], "best": None}
    if state["epoch"]:
        import inference.models.covidnet3d  # noqa: F401  registers InstanceNormalization for loading

        model = keras.saving.load_model(out / CHECKPOINT_FILE)
        print(f"resuming after epoch {state['epoch']} from {out / CHECKPOINT_FILE}", flush=True)
    else:
        model = _compiled_model(config)
    train, val = splits["train"], splits["val"]
    first_epoch = state["epoch"] + 1
    for epoch in range(first_epoch, config.epochs + 1):
        flips = np.random.default_rng([config.seed, epoch, 1])
        bar = tqdm(_epoch_batches(train.size, batch_size=config.batch_size, seed=config.seed, epoch=epoch),
                   desc=f"epoch {epoch}/{config.epochs}", unit="batch")
        losses = []
        epoch_started = time.perf_counter()
        for batch in bar:
            x = volumes[train[batch]]
            x = np.where(flips.random(len(batch))[:, None, None, None] < 0.5, x[..., ::-1], x)
            losses.append(float(model.train_on_batch(x[..., np.newaxis], labels[train[batch]])))
            bar.set_postfix(loss=f"{np.mean(losses):.4f}")
        train_s = time.perf_counter() - epoch_started
        val_p = _predict(model, volumes[val], batch_size=config.batch_size)
        auc = binary_metrics(labels[val], val_p, n_boot=0)["auc"]["value"]
        row = {"epoch": epoch, "train_loss": float(np.mean(losses)), "val_loss": _binary_cross_entropy(labels[val], val_p),
               "val_auc": float("nan") if auc is None else auc, "train_seconds": round(train_s, 2),
               "includes_tracing": epoch == first_epoch}
        state["history"].append(row)
        best = state["best"]
        if best is None or (np.nan_to_num(row["val_auc"], nan=-1), -row["val_loss"]) > (np.nan_to_num(best["val_auc"], nan=-1), -best["val_loss"]):
            state["best"] = row
            model.save_weights(out / BEST_WEIGHTS_FILE)
        state["epoch"] = epoch
        model.save(out / CHECKPOINT_FILE)
        state_path.write_text(json.dumps(state, indent=1) + "\n")
        print(f"epoch {epoch}: train loss {row['train_loss']:.4f}  val loss {row['val_loss']:.4f}  "
              f"val AUC {row['val_auc']:.3f}", flush=True)
        if epoch - state["best"]["epoch"] >= config.patience:
            print(f"no better validation for {config.patience} epochs: stopping", flush=True)
            break
    return list(state["history"])


def _two_class_logits(probabilities: np.ndarray) -> np.ndarray:
    """Return log-probabilities ``(n, 2)`` in ``CLASS_NAMES`` order (COVID-19 first)."""
    return logits_from_probabilities(np.stack([probabilities, 1.0 - probabilities], axis=1))


def evaluate(model: Any, *, volumes: np.ndarray, labels: np.ndarray, cases: list[TrainingCase],
             splits: dict[str, np.ndarray], batch_size: int) -> dict[str, Any]:
    """Fit the temperature on validation; score the test split overall and per data source."""
    raw = {name: _predict(model, volumes[idx], batch_size=batch_size) for name, idx in splits.items() if name != "train"}
    val_labels = labels[splits["val"]]
    separated = raw["val"][val_labels == 0].max(initial=0.0) < raw["val"][val_labels == 1].min(initial=1.0)
    # On a perfectly separated validation split the NLL falls as T shrinks: no temperature is identifiable.
    temperature = 1.0 if separated else fit_temperature(_two_class_logits(raw["val"]), (1 - val_labels).astype(np.int64))
    calibrated = apply_temperature(_two_class_logits(raw["test"]), temperature=temperature)[:, 0]
    test_labels = labels[splits["test"]]
    sources = np.array([cases[i].source for i in splits["test"]])
    return {
        "temperature": temperature,
        "validation_separated": bool(separated),
        "test_metrics": binary_metrics(test_labels, calibrated),
        "test_metrics_by_source": {source: binary_metrics(test_labels[sources == source], calibrated[sources == source])
                                   for source in sorted(set(sources.tolist()))},
        "ece_test_before": expected_calibration_error(test_labels, raw["test"]),
        "ece_test_after": expected_calibration_error(test_labels, calibrated),
    }


def score_external(model: Any, *, config: VolumeTrainConfig, temperature: float) -> dict[str, Any] | None:
    """Score every volume of the external folder; per case, since such folders are small."""
    if config.external is None:
        return None
    cases = read_training_folder(config.external, labels_csv=config.external_labels)
    raw = _predict(model, model_inputs(cases, geometry=config.geometry), batch_size=config.batch_size)
    calibrated = apply_temperature(_two_class_logits(raw), temperature=temperature)[:, 0]
    labels = np.array([case.is_positive for case in cases], dtype=np.int64)
    return {
        "folder": config.external,
        "cases": [{"case": case.case_id, "label": "covid" if case.is_positive else "non-covid",
                   "covid_probability": round(float(p), 4)} for case, p in zip(cases, calibrated)],
        # A percentile bootstrap of a handful of cases only repeats them: no CI below MIN_CASES_FOR_CI.
        "metrics": binary_metrics(labels, calibrated, n_boot=10000 if labels.size >= MIN_CASES_FOR_CI else 0),
    }


def _hardware_description() -> str:
    import os
    import platform

    from inference.device import gpu_available

    return f"{'GPU' if gpu_available() else 'CPU'}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def build_card(config: VolumeTrainConfig, *, model: Any, cases: list[TrainingCase], labels: np.ndarray,
               splits: dict[str, np.ndarray], history: list[dict[str, float]], evaluation: dict[str, Any],
               external: dict[str, Any] | None, wall_clock_s: float, argv: list[str]) -> dict[str, Any]:
    """Assemble the model card of a finished run."""
    import keras

    best = max(history, key=lambda row: (np.nan_to_num(row["val_auc"], nan=-1), -row["val_loss"]))
    counts = {name: {"covid": int(labels[idx].sum()), "non-covid": int(idx.size - labels[idx].sum())}
              for name, idx in splits.items()}
    steady = [row["train_seconds"] for row in history if not row["includes_tracing"]]
    epoch_seconds = float(np.median(steady or [row["train_seconds"] for row in history]))
    card = {
        "name": Path(config.out).name, "version": datetime.now(UTC).strftime("%Y-%m-%d"),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": VOLUME_KIND, "variant": config.variant, "input_size_px": config.crop_px,
        "input_geometry": asdict(config.geometry), "class_names": list(CLASS_NAMES), "positive_class": CLASS_NAMES[0],
        "input": "float32 (n, slices, crop, crop, 1): HU clipped to [-1024, 1024] and scaled to [0, 1], "
                 "resampled trilinearly to slices x resize^2, centre-cropped to crop^2",
        "params": int(model.count_params()),
        "weights_file": WEIGHTS_FILE, "weights_sha256": sha256_file(Path(config.out) / WEIGHTS_FILE), "split_file": SPLIT_FILE,
        "calibration": {"method": "temperature scaling of the sigmoid's two-class log-probabilities, NLL fitted on the validation split"
                                  + ("; validation perfectly separated, so T is not identifiable and is left at 1 (uncalibrated)"
                                     if evaluation["validation_separated"] else ""),
                        "temperature": evaluation["temperature"], "ece_test_before": evaluation["ece_test_before"],
                        "ece_test_after": evaluation["ece_test_after"], "ece_bins": 10},
        "aggregation": {"rule": "none: the model reads the whole volume and gives one probability per study"},
        "data": {"folders": list(config.data), "labels": list(config.labels), "volumes": len(cases),
                 "sources": sorted({case.source for case in cases})},
        "split": {"grouping": "patient column of labels.csv", "seed": config.seed, "volumes_per_split_and_class": counts},
        "training": {**asdict(config), "optimizer": "Adam", "loss": "binary cross-entropy",
                     "augmentation": "left-right flip, p = 0.5", "epochs_run": len(history),
                     "best_epoch": int(best["epoch"]), "best_val_auc": best["val_auc"],
                     "training_s": round(sum(row["train_seconds"] for row in history), 1),
                     "wall_clock_s_last_invocation": round(wall_clock_s, 1),
                     "median_epoch_train_s": epoch_seconds,  # epochs that traced the graph excluded
                     "train_volumes_per_s": round(splits["train"].size / max(epoch_seconds, 1e-9), 2),
                     "hardware": _hardware_description(), "precision": keras.mixed_precision.global_policy().name,
                     "framework": f"keras {keras.__version__} ({keras.backend.backend()} backend)"},
        "test_metrics": evaluation["test_metrics"],
        "test_metrics_by_source": evaluation["test_metrics_by_source"],
        "reproduce": {"train": "python -m inference.train_volume " + shlex.join(argv)},
    }
    if external is not None:
        card["external_check"] = external
    return card


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the volume training CLI and return the model card it wrote."""
    from inference.device import configure_precision
    from inference.models.covidnet3d import build_volume_model

    arguments = sys.argv[1:] if argv is None else argv
    config = parse_args(arguments)
    configure_precision()
    started = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    cases = read_cases(config.data, config.labels)
    labels = np.array([case.is_positive for case in cases], dtype=np.int64)
    splits = patient_level_split([case.patient for case in cases], labels, seed=config.seed)
    empty = [name for name, idx in splits.items() if idx.size == 0]
    if empty:
        raise SystemExit(f"the patient-level split left {empty} empty: {len(set(c.patient for c in cases))} patients "
                         "are too few (about 4 per class are needed)")
    (out / SPLIT_FILE).write_text(json.dumps({name: [cases[i].case_id for i in idx] for name, idx in splits.items()}, indent=1) + "\n")
    print(", ".join(f"{name} {idx.size}" for name, idx in splits.items()) + " volumes (patient-level split)", flush=True)
    volumes = model_inputs(cases, geometry=config.geometry)
    history = fit(config, volumes=volumes, labels=labels, splits=splits)
    model = build_volume_model(config.variant, geometry=config.geometry)
    model.load_weights(out / BEST_WEIGHTS_FILE)
    model.save_weights(out / WEIGHTS_FILE)  # weights only: no optimizer state in what ships
    evaluation = evaluate(model, volumes=volumes, labels=labels, cases=cases, splits=splits, batch_size=config.batch_size)
    external = score_external(model, config=config, temperature=evaluation["temperature"])
    (out / HISTORY_FILE).write_text(json.dumps(history, indent=1) + "\n")
    card = build_card(config, model=model, cases=cases, labels=labels, splits=splits, history=history,
                      evaluation=evaluation, external=external, wall_clock_s=time.perf_counter() - started, argv=arguments)
    write_model_card(out, card)
    metrics = card["test_metrics"]
    print(f"test AUC {metrics['auc']['value']}  sensitivity {metrics['sensitivity']['value']}  "
          f"specificity {metrics['specificity']['value']}  T={evaluation['temperature']:.3f}  "
          f"training {card['training']['training_s']} s", flush=True)
    return card


if __name__ == "__main__":
    main()
