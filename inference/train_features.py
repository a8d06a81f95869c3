"""Train the 3-class lesion-feature model with leave-one-real-volume-out validation.

Called by ``python -m inference.train --data FEATURES.npz ...`` (a table from
:mod:`inference.feature_dataset`). One fixed recipe (fixed epochs, no early stopping, so no
held-out volume steers training):

1. for each labelled real volume: train on every row of the other groups (the held-out volume's
   synthetic copies are held out with it; NY-SBU slices are COVID-19 rows of every fold), predict
   the held-out volume's real slices and its synthetic copies;
2. one more fold holds out every NY-SBU slice (COVID-19 patients of another hospital), trained on
   the four volumes;
3. the final model on every row;
4. calibration, study probabilities, the feature-distance threshold and per-volume and pooled
   metrics with bootstrap CIs as in :mod:`inference.train_hu` (:func:`~inference.train_hu.summarise_folds`).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from inference.domain import DomainLimits, fit_feature_reference, relative_feature_distance
from inference.hu_dataset import COVID, DOMAIN_REAL, DOMAIN_SYNTHETIC, NORMAL, PNEUMONIA
from inference.metrics import binary_metrics
from inference.registry import FEATURES_KIND, write_model_card
from inference.train_hu import (
    DISTANCE_MARGIN,
    FEATURE_REFERENCE_FILE,
    FOLDS_FILE,
    counts_per_domain_and_class,
    load_table,
    summarise_folds,
)

NYSBU_PREFIX = "nysbu-"
MIN_VARIANCE = 1e-6


def is_feature_table(path: str | Path) -> bool:
    """Return True for a table of :mod:`inference.feature_dataset` (it holds ``features``, a slice table ``images``)."""
    with np.load(path) as data:
        return "features" in data.files


def held_out_volumes(table: dict[str, np.ndarray]) -> list[str]:
    """Return the labelled real volumes (groups with more than one real slice and infection labels), sorted."""
    real = (table["domains"] == DOMAIN_REAL) & (table["infection"] >= 0)
    names, counts = np.unique(table["groups"][real], return_counts=True)
    return [str(name) for name, count in zip(names, counts) if count > 1]


def class_balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Return per-row weights that give every present class the same total weight (mean weight 1)."""
    classes, counts = np.unique(labels, return_counts=True)
    per_class = dict(zip(classes.tolist(), (labels.size / (classes.size * counts)).tolist()))
    return np.array([per_class[int(label)] for label in labels], dtype=np.float32)


def train_feature_model(config: Any, *, features: np.ndarray, labels: np.ndarray, seed: int, desc: str) -> Any:
    """Train a fresh :func:`~inference.models.lesion_mlp.build_feature_model` for ``config.epochs`` epochs."""
    import keras

    from inference.models.lesion_mlp import build_feature_model

    keras.utils.set_random_seed(seed)
    model = build_feature_model(mean=features.mean(axis=0), variance=np.maximum(features.var(axis=0), MIN_VARIANCE))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate), loss="sparse_categorical_crossentropy")
    history = model.fit(features, labels, sample_weight=class_balanced_weights(labels), epochs=config.epochs,
                        batch_size=config.batch_size, shuffle=True, verbose=0)
    losses = history.history["loss"]
    print(f"{desc}: {labels.size} rows, loss epoch 1 {losses[0]:.4f} -> epoch {len(losses)} {losses[-1]:.4f}", flush=True)
    return model


def predict_with_embedding(model: Any, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return probabilities (n, 3) and last-hidden-layer features (n, d) of feature rows (n, f)."""
    from inference.train_hu import with_embedding

    probabilities, embedding = with_embedding(model).predict(features, verbose=0)
    return np.asarray(probabilities, np.float64), np.asarray(embedding, np.float64)


def synthetic_metrics(probabilities: np.ndarray, labels: np.ndarray, *, normal_probabilities: np.ndarray, n_boot: int) -> dict[str, Any]:
    """Return held-out synthetic-lesion figures: lesion slices vs the volume's real normal slices, COVID-19 vs pneumonia."""
    result: dict[str, Any] = {"n": int(labels.size)}
    if labels.size and normal_probabilities.size:
        truth = np.r_[np.ones(labels.size), np.zeros(normal_probabilities.shape[0])].astype(np.int64)
        score = 1 - np.r_[probabilities[:, NORMAL], normal_probabilities[:, NORMAL]]
        result["infection_vs_real_normal"] = binary_metrics(truth, score, n_boot=n_boot)
    if (labels == COVID).any() and (labels == PNEUMONIA).any():
        result["covid_vs_pneumonia"] = binary_metrics((labels == COVID).astype(np.int64), probabilities[:, COVID], n_boot=n_boot)
    return result


def run(config: Any, *, argv: list[str]) -> dict[str, Any]:
    """Run the validation folds and the final training; write weights, feature reference and card."""
    from inference.train import SPLIT_FILE, WEIGHTS_FILE, build_card_common

    started = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    table = load_table(config.data)
    features, labels, groups, domains = table["features"], table["labels"], table["groups"], table["domains"]
    volumes = held_out_volumes(table) if config.folds else []
    folds: list[dict[str, Any]] = []
    synthetic: dict[str, Any] = {}
    for index, volume in enumerate(tqdm(volumes, desc="leave-one-volume-out folds", file=sys.stdout)):
        train = groups != volume
        model = train_feature_model(config, features=features[train], labels=labels[train], seed=config.seed + index,
                                    desc=f"fold {volume}")
        _, train_embedding = predict_with_embedding(model, features[train])
        reference = fit_feature_reference(train_embedding)
        rows = np.flatnonzero(~train & (domains == DOMAIN_REAL))
        raw, embedding = predict_with_embedding(model, features[rows])
        folds.append({"volume": volume, "fold": index, "rows": rows, "raw": raw, "labels": labels[rows],
                      "infection": table["infection"][rows], "relative_distance": relative_feature_distance(embedding, reference=reference)})
        made = np.flatnonzero(~train & (domains == DOMAIN_SYNTHETIC))
        synthetic[volume] = synthetic_metrics(predict_with_embedding(model, features[made])[0], labels[made],
                                              normal_probabilities=raw[labels[rows] == NORMAL], n_boot=config.n_boot)
    nysbu = np.char.startswith(groups.astype(str), NYSBU_PREFIX)
    external = nysbu_fold(config, table, held=nysbu) if config.folds and nysbu.any() else None
    final = train_feature_model(config, features=features, labels=labels, seed=config.seed + len(volumes) + 1, desc="final")
    final.save_weights(out / WEIGHTS_FILE)
    fit_feature_reference(predict_with_embedding(final, features)[1]).save(str(out / FEATURE_REFERENCE_FILE))
    validation = summarise_folds(folds, n_boot=config.n_boot)
    validation["per_domain"]["synthetic_held_out"] = synthetic
    if external is not None:
        validation["per_domain"]["nysbu_slices_held_out"] = external
    (out / SPLIT_FILE).write_text(json.dumps({"data": str(config.data), "folds": [[v] for v in volumes] + [["nysbu-*"]],
                                              "groups": sorted({str(g) for g in groups})}, indent=1) + "\n")
    (out / FOLDS_FILE).write_text(json.dumps(validation, indent=1) + "\n")
    card = build_card_common(config, class_names=("normal", "pneumonia", "covid"), positive_class="covid", model=final,
                             wall_clock_s=time.perf_counter() - started, argv=argv)
    card.pop("input_size_px")
    card["training"].pop("augmentation")
    card["training"].update(sampling="every row once per epoch, class-balanced sample weights",
                            recipe="fixed epochs, no early stopping")
    normalisation = final.get_layer("standardise")
    card.update({
        "kind": FEATURES_KIND, "variant": "lesion-mlp",
        "input": "per-slice lesion features (n, f) of inference.lesion_features, from inference.quantify of the whole volume",
        "feature_names": [str(n) for n in table["feature_names"]],
        "feature_mean": np.asarray(normalisation.mean).ravel().tolist(),
        "feature_variance": np.asarray(normalisation.variance).ravel().tolist(),
        "calibration": {"method": "temperature scaling of log-probabilities, 3-class NLL fitted on the pooled held-out real HU "
                                  "slices of the leave-one-volume-out folds", **validation["calibration"], "ece_bins": 10},
        "data": {"root": str(config.data), "slices": int(labels.size), "slices_per_domain_and_class": counts_per_domain_and_class(table)},
        "split": {"grouping": "leave one real volume out (its synthetic copies with it); one more fold holds out every "
                              "NY-SBU slice; fixed training length", "folds": [[v] for v in volumes] + [["nysbu-*"]]},
        "validation": validation["per_domain"],
        "domain": {"limits": asdict(DomainLimits(max_relative_distance=validation["distance_threshold"])),
                   "feature_reference_file": FEATURE_REFERENCE_FILE,
                   "threshold_rule": f"{DISTANCE_MARGIN} x the largest held-out volume's relative feature distance "
                                     "(median slice Mahalanobis distance in the last hidden layer / 95th percentile of "
                                     "its fold's training slices)",
                   "held_out_relative_distances": {f["volume"]: f["relative_distance"] for f in folds}},
        "extra_files": [FEATURE_REFERENCE_FILE, FOLDS_FILE],
    })
    write_model_card(out, card)
    print(json.dumps({"pooled": validation["per_domain"]["real_hu_slices"]["pooled"].get("infection_vs_none", {}).get("auc"),
                      "studies": validation["per_domain"]["real_hu_studies"]["held_out_study_probabilities"]}, indent=1), flush=True)
    return card


def nysbu_fold(config: Any, table: dict[str, np.ndarray], *, held: np.ndarray) -> dict[str, Any]:
    """Train without the NY-SBU slices and return how they score (all COVID-19: no AUC, the share called abnormal/COVID-19)."""
    model = train_feature_model(config, features=table["features"][~held], labels=table["labels"][~held],
                                seed=config.seed + 10_000, desc="fold nysbu-*")
    probabilities, _ = predict_with_embedding(model, table["features"][held])
    return {"n": int(held.sum()), "patients": int(np.unique(table["groups"][held]).size),
            "median_p_covid": float(np.median(probabilities[:, COVID])),
            "share_argmax_covid": float(np.mean(probabilities.argmax(axis=1) == COVID)),
            "share_argmax_not_normal": float(np.mean(probabilities.argmax(axis=1) != NORMAL)),
            "note": "uncalibrated; every slice is COVID-19 (no negatives of that site), so no AUC"}

