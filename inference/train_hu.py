"""Train the 3-class slice model on the HU slice table, with leave-one-volume-out validation.

Called by ``python -m inference.train --data TABLE.npz ...`` (a table from :mod:`inference.hu_dataset`).
One run does, with one fixed recipe (fixed steps, no early stopping, so no held-out volume
steers training):

1. for each fold of :func:`validation_folds` (a real volume with pneumonia paired with a normal
   one): train on every row whose group is not held out (synthetic children are held out with
   their source volume), predict the held-out volumes' lung slices (probabilities and
   penultimate features);
2. the final model on every row;
3. calibration: one temperature fitted on the pooled held-out real slices (3-class NLL); the ECE
   it reaches is measured by cross-fitting (each fold's slices calibrated with a temperature fitted
   on the other folds), and the temperature is kept only if that ECE is lower than without it;
4. the domain threshold: each held-out volume's relative feature distance from its fold's
   training slices (:mod:`inference.domain`); the threshold is ``DISTANCE_MARGIN`` x the largest;
5. metrics per fold and pooled with bootstrap CIs, study probabilities per held-out volume,
   all written to the model card.
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

from inference.aggregate import DEFAULT_TOP_K, STUDY_RULE, apply_temperature, fit_temperature, logits_from_probabilities, study_probability
from inference.augment import augment_batch
from inference.domain import DomainLimits, fit_feature_reference, relative_feature_distance
from inference.hu_dataset import COVID, DOMAIN_REAL, NORMAL
from inference.metrics import binary_metrics, expected_calibration_error
from inference.registry import sha256_file, write_model_card

DISTANCE_MARGIN = 1.5
FEATURE_REFERENCE_FILE = "feature_reference.npz"
FOLDS_FILE = "folds.json"
MAX_REFERENCE_ROWS = 3000


def load_table(path: str | Path) -> dict[str, np.ndarray]:
    """Read a slice table written by :mod:`inference.hu_dataset`."""
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def validation_folds(table: dict[str, np.ndarray]) -> list[tuple[str, ...]]:
    """Pair each real volume with pneumonia (COVID-19 or CAP) with one normal volume; each pair is held out once.

    A pair gives every fold both classes (a slice AUC and a study ranking); volumes left unpaired
    are held out alone. Volumes are whole labelled real series (more than one slice).
    """
    real = table["domains"] == DOMAIN_REAL
    labelled = real & (table["infection"] >= 0)
    volumes = sorted({str(g) for g in table["groups"][labelled] if (table["groups"][real] == g).sum() > 1})
    abnormal = [v for v in volumes if (table["labels"][real & (table["groups"] == v)] != NORMAL).any()]
    normal = [v for v in volumes if v not in abnormal]
    pairs = [tuple(pair) for pair in zip(abnormal, normal)]
    rest = [(v,) for v in (abnormal[len(pairs):] + normal[len(pairs):])]
    return pairs + rest


def compiled_model(config: Any) -> Any:
    """Build and compile one model; every fold reuses it (reset by :func:`reset_model`), so it is traced once."""
    import keras

    from inference.models import build_model
    from inference.train import compile_for_training

    keras.utils.set_random_seed(config.seed)
    model = build_model(config.model, input_size_px=config.size, num_classes=3)
    compile_for_training(model, optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
                         loss="sparse_categorical_crossentropy")
    return model


def reset_model(model: Any, *, initial_weights: list[np.ndarray]) -> None:
    """Restore the initial weights and zero the optimizer's state (moments and step count, not the learning rate)."""
    model.set_weights(initial_weights)
    for variable in model.optimizer.variables:
        if "learning_rate" not in variable.path:
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))


def train_model(model: Any, config: Any, *, images: np.ndarray, labels: np.ndarray, seed: int, desc: str) -> Any:
    """Train ``model`` for ``config.epochs`` x steps on class-balanced augmented batches."""
    from inference.train import balanced_batches

    rng = np.random.default_rng(seed)
    steps = config.steps_per_epoch or max(1, int(np.ceil(labels.size / config.batch_size)))
    for epoch in range(config.epochs):
        batches = balanced_batches(labels, batch_size=config.batch_size, steps=steps, rng=rng)
        losses = []
        for rows in tqdm(batches, desc=f"{desc} epoch {epoch + 1}/{config.epochs}", file=sys.stdout, leave=False):
            x = augment_batch(images[rows], rng=rng, p=config.augment_probability)[..., np.newaxis]
            losses.append(float(model.train_on_batch(x, labels[rows])))
        print(f"{desc} epoch {epoch + 1}: train loss {np.mean(losses):.4f}", flush=True)
    return model


def with_embedding(model: Any) -> Any:
    """Return a model sharing ``model``'s layers that outputs (probabilities, penultimate features)."""
    import keras

    from inference.models import EMBEDDING_LAYER

    return keras.Model(model.input, [model.output, model.get_layer(EMBEDDING_LAYER).output])


def predict_with_features(both: Any, images: np.ndarray, *, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return softmax probabilities (n, 3) and penultimate features (n, d) of uint8 slices (n, s, s)."""
    probabilities, features = both.predict(images[..., np.newaxis], batch_size=batch_size, verbose=0)
    return np.asarray(probabilities, np.float64), np.asarray(features, np.float64)


def reference_rows(rows: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Return at most ``MAX_REFERENCE_ROWS`` of ``rows`` (sorted) for the feature reference."""
    return np.sort(rng.choice(rows, size=min(rows.size, MAX_REFERENCE_ROWS), replace=False))


def slice_metrics(labels: np.ndarray, probabilities: np.ndarray, infection: np.ndarray, *, n_boot: int) -> dict[str, Any]:
    """Return slice-level infection metrics (score 1 - P(normal) vs the infection label) and COVID-19 metrics."""
    result: dict[str, Any] = {"n": int(labels.size), "infected": int(infection.sum())}
    if 0 < infection.sum() < infection.size:
        result["infection_vs_none"] = binary_metrics(infection, 1 - probabilities[:, NORMAL], n_boot=n_boot)
    is_covid = (labels == COVID).astype(np.int64)
    if 0 < is_covid.sum() < is_covid.size:
        result["covid_vs_rest"] = binary_metrics(is_covid, probabilities[:, COVID], n_boot=n_boot)
    return result


def study_scores(probabilities: np.ndarray, *, top_k: int = DEFAULT_TOP_K) -> dict[str, float]:
    """Return the study rule's COVID-19 probability and the matching infection (1 - normal) probability."""
    covid = study_probability(probabilities[:, COVID], top_k=top_k)
    abnormal = study_probability(1 - probabilities[:, NORMAL], top_k=top_k)
    return {"covid_probability": covid, "infection_probability": abnormal}


def cross_fitted_ece(folds: list[dict[str, Any]]) -> dict[str, float | None]:
    """Return pooled ECE of P(COVID-19) before and after temperature scaling, each fold calibrated by the others."""
    raw, calibrated, labels = [], [], []
    for fold in folds:
        others = [f for f in folds if f["fold"] != fold["fold"]]
        temperature = fit_temperature(logits_from_probabilities(np.concatenate([f["raw"] for f in others])),
                                      np.concatenate([f["labels"] for f in others]))
        raw.append(fold["raw"])
        calibrated.append(apply_temperature(logits_from_probabilities(fold["raw"]), temperature=temperature))
        labels.append(fold["labels"])
    is_covid = (np.concatenate(labels) == COVID).astype(np.int64)
    return {"ece_before": expected_calibration_error(is_covid, np.concatenate(raw)[:, COVID]),
            "ece_after_cross_fitted": expected_calibration_error(is_covid, np.concatenate(calibrated)[:, COVID])}


def run(config: Any, *, argv: list[str]) -> dict[str, Any]:
    """Run leave-one-volume-out validation and the final training; write weights, references and card."""
    from inference.train import SPLIT_FILE, WEIGHTS_FILE, build_card_common, save_inference_weights

    started = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    table = load_table(config.data)
    images, labels, groups = table["images"], table["labels"], table["groups"]
    if int(table["size_px"]) != config.size:
        raise ValueError(f"--size {config.size} differs from the table's {int(table['size_px'])} px; rebuild the table")
    rng = np.random.default_rng(config.seed)
    fold_volumes = validation_folds(table) if config.folds else []
    folds: list[dict[str, Any]] = []
    model = compiled_model(config)
    initial_weights = model.get_weights()
    both = with_embedding(model)
    for index, held_volumes in enumerate(fold_volumes):
        held = np.isin(groups, held_volumes)
        train_rows = np.flatnonzero(~held)
        reset_model(model, initial_weights=initial_weights)
        train_model(model, config, images=images[train_rows], labels=labels[train_rows], seed=config.seed + index,
                    desc=f"fold {'+'.join(held_volumes)}")
        _, train_features = predict_with_features(both, images[reference_rows(train_rows, rng=rng)], batch_size=config.batch_size)
        reference = fit_feature_reference(train_features)
        for volume in held_volumes:
            rows = np.flatnonzero((groups == volume) & (table["domains"] == DOMAIN_REAL))
            raw, features = predict_with_features(both, images[rows], batch_size=config.batch_size)
            distance = relative_feature_distance(features, reference=reference)
            folds.append({"volume": volume, "fold": index, "rows": rows, "raw": raw, "labels": labels[rows],
                          "infection": table["infection"][rows], "relative_distance": distance})
            print(f"fold {index} {volume}: study {study_scores(raw)}  distance {distance:.2f}", flush=True)
    reset_model(model, initial_weights=initial_weights)
    final = train_model(model, config, images=images, labels=labels, seed=config.seed + len(fold_volumes), desc="final")
    save_inference_weights(final, out / WEIGHTS_FILE, config=config, num_classes=3)
    _, final_features = predict_with_features(both, images[reference_rows(np.arange(labels.size), rng=rng)],
                                              batch_size=config.batch_size)
    fit_feature_reference(final_features).save(str(out / FEATURE_REFERENCE_FILE))
    validation = summarise_folds(folds, n_boot=config.n_boot)
    (out / SPLIT_FILE).write_text(json.dumps({"data": str(config.data), "folds": fold_volumes,
                                              "groups": sorted({str(g) for g in groups})}, indent=1) + "\n")
    (out / FOLDS_FILE).write_text(json.dumps(validation, indent=1) + "\n")
    card = build_card_common(config, class_names=("normal", "pneumonia", "covid"), positive_class="covid", model=final,
                             wall_clock_s=time.perf_counter() - started, argv=argv)
    card.update({
        "kind": "slice",
        "input": "uint8 lung-window (-1350..150 HU) slices (n, size, size, 1) after the worker's body crop and square resize",
        "calibration": {"method": "temperature scaling of log-probabilities, 3-class NLL fitted on the pooled held-out real HU slices "
                                  "of the leave-two-volumes-out folds", **validation["calibration"], "ece_bins": 10},
        "aggregation": {"rule": STUDY_RULE, "top_k": DEFAULT_TOP_K},
        "data": {"root": str(config.data), "slices": int(labels.size),
                 "slices_per_domain_and_class": counts_per_domain_and_class(table)},
        "split": {"grouping": "leave two real volumes out (one with pneumonia, one normal; their synthetic children "
                              "with them); fixed training length", "folds": [list(f) for f in fold_volumes]},
        "validation": validation["per_domain"],
        "domain": {"limits": asdict(DomainLimits(max_relative_distance=validation["distance_threshold"])),
                   "feature_reference_file": FEATURE_REFERENCE_FILE,
                   "threshold_rule": f"{DISTANCE_MARGIN} x the largest held-out volume's relative feature distance "
                                     f"(median slice Mahalanobis distance / 95th percentile of its fold's training slices)",
                   "held_out_relative_distances": {f["volume"]: f["relative_distance"] for f in folds}},
        "extra_files": [FEATURE_REFERENCE_FILE, FOLDS_FILE],
    })
    card["training"]["recipe"] = "fixed length, no early stopping; class-balanced batches over real + synthetic rows"
    write_model_card(out, card)
    print(json.dumps(validation["per_domain"]["real_hu_studies"], indent=1), flush=True)
    return card


def counts_per_domain_and_class(table: dict[str, np.ndarray]) -> dict[str, dict[str, int]]:
    names = [str(n) for n in table["class_names"]]
    return {str(domain): {names[c]: int(((table["domains"] == domain) & (table["labels"] == c)).sum()) for c in range(len(names))}
            for domain in np.unique(table["domains"])}


def chosen_calibration(folds: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the temperature fitted on the pooled held-out slices, kept only if it lowers the cross-fitted ECE.

    A temperature that makes the held-out ECE worse (each fold scored with a temperature fitted
    without it) does not calibrate: the card then keeps T = 1 and says why. With one fold there is
    nothing to cross-fit, and the fitted temperature is kept.
    """
    fitted = fit_temperature(logits_from_probabilities(np.concatenate([f["raw"] for f in folds])),
                             np.concatenate([f["labels"] for f in folds]))
    if len({f["fold"] for f in folds}) < 2:
        return {"temperature": fitted}
    ece = cross_fitted_ece(folds)
    if ece["ece_after_cross_fitted"] < ece["ece_before"]:
        return {"temperature": fitted, **ece}
    return {"temperature": 1.0, "fitted_temperature": fitted, **ece,
            "note": "the fitted temperature raised the cross-fitted held-out ECE, so it is not applied (T = 1)"}


def summarise_folds(folds: list[dict[str, Any]], *, n_boot: int) -> dict[str, Any]:
    """Return per-fold and pooled held-out metrics, calibration and the feature-distance threshold."""
    if not folds:
        return {"per_domain": {}, "calibration": {"temperature": 1.0}, "distance_threshold": None}
    calibration = chosen_calibration(folds)
    temperature = calibration["temperature"]
    per_fold, studies = {}, {}
    for fold in folds:
        calibrated = apply_temperature(logits_from_probabilities(fold["raw"]), temperature=temperature)
        per_fold[fold["volume"]] = slice_metrics(fold["labels"], calibrated, fold["infection"], n_boot=n_boot)
        studies[fold["volume"]] = study_scores(calibrated)
    pooled = apply_temperature(logits_from_probabilities(np.concatenate([f["raw"] for f in folds])), temperature=temperature)
    pooled_metrics = slice_metrics(np.concatenate([f["labels"] for f in folds]), pooled,
                                   np.concatenate([f["infection"] for f in folds]), n_boot=n_boot)
    study_classes = {f["volume"]: int(f["labels"].max()) for f in folds}
    abnormal = [studies[v]["covid_probability"] for v, c in study_classes.items() if c != NORMAL]
    normal = [studies[v]["covid_probability"] for v, c in study_classes.items() if c == NORMAL]
    threshold = DISTANCE_MARGIN * max(f["relative_distance"] for f in folds)
    return {
        "per_domain": {
            "real_hu_slices": {"pooled": pooled_metrics, "per_fold": per_fold},
            "real_hu_studies": {"held_out_study_probabilities": studies, "study_class": study_classes,
                                "every_pneumonia_above_every_normal": bool(abnormal and normal and min(abnormal) > max(normal))},
        },
        "calibration": calibration,
        "distance_threshold": threshold,
    }
