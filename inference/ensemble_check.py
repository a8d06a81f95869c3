"""Would averaging the 2D (slice) and 3D (volume) models' study probabilities help? Measure it on labelled volumes.

    python -m inference.ensemble_check --data DIR [--labels CSV] [--data DIR --labels CSV ...] \\
        --slice-model NAME/VERSION --volume-model NAME/VERSION [--slice-held-out] [--json OUT]

The ensemble is the mean of the two calibrated COVID-19 probabilities. Validation favours it only when
the paired 95 % bootstrap CI of its AUC difference lies above 0 against *both* models, on at least
:data:`MIN_CASES_PER_CLASS` volumes per class; anything less is reported, not adopted.
``--slice-held-out`` takes the slice model's probability of a volume from its card's held-out
validation (``validation.real_hu_studies``) where it has one: a model trained on the volumes it is
scored on would make its own side of the comparison in-sample.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inference.metrics import paired_comparison

if TYPE_CHECKING:
    from inference.dicom_io import Volume
    from inference.registry import LoadedModel

MIN_CASES_PER_CLASS = 10  # as the platform's monitoring: below it an estimate and its CI mislead
N_BOOT = 10000


def ensemble_report(labels: Sequence[int], slice_p: Sequence[float], volume_p: Sequence[float], *,
                    threshold: float = 0.5, n_boot: int = N_BOOT) -> dict[str, Any]:
    """Compare the mean of two models' probabilities with each model on the same cases (paired bootstrap).

    Returns ``{"n", "n_positive", "ensemble_vs_slice", "ensemble_vs_volume", "favours_ensemble", "reason"}``;
    each comparison holds the AUC of both sides and of their difference (``b`` = ensemble) with 95 % CIs
    and sensitivity/specificity at ``threshold``.
    """
    y = np.asarray(labels, dtype=np.int64)
    slice_scores, volume_scores = np.asarray(slice_p, np.float64), np.asarray(volume_p, np.float64)
    ensemble = (slice_scores + volume_scores) / 2
    smallest_class = int(min(y.sum(), y.size - y.sum()))
    enough = smallest_class >= MIN_CASES_PER_CLASS
    report: dict[str, Any] = {"n": int(y.size), "n_positive": int(y.sum()), "ensemble": ensemble.round(4).tolist()}
    for name, single in (("slice", slice_scores), ("volume", volume_scores)):
        # no bootstrap on a handful of cases: its interval would only repeat them
        full = paired_comparison(y, single, ensemble, threshold=threshold, n_boot=n_boot if enough else 0)
        report[f"ensemble_vs_{name}"] = {
            "auc": {"single": full["a"]["auc"], "ensemble": full["b"]["auc"], "difference": full["difference"]["auc"]},
            **{metric: {"single": full["a"][metric]["value"], "ensemble": full["b"][metric]["value"]}
               for metric in ("sensitivity", "specificity")}}
    lower_bounds = [(report[f"ensemble_vs_{name}"]["auc"]["difference"]["ci95"] or [None])[0] for name in ("slice", "volume")]
    report["favours_ensemble"] = enough and all(bound is not None and bound > 0 for bound in lower_bounds)
    report["reason"] = (f"too few cases: {smallest_class} in the smaller class, at least {MIN_CASES_PER_CLASS} needed"
                        if not enough else "paired AUC CI above 0 against both models" if report["favours_ensemble"]
                        else "the paired AUC CI does not lie above 0 against both models")
    return report


def slice_study_probability(volume: Volume, *, loaded: LoadedModel) -> float:
    """Return the slice model's calibrated study probability of COVID-19 (the worker's classification step)."""
    from inference.analysis import DEFAULT_BATCH_SIZE, analyse_volume, classify_slices, score_study
    from inference.preprocess import plan_study
    from inference.registry import FEATURES_KIND

    if loaded.kind == FEATURES_KIND:  # its features come from the quantification: the worker's whole path
        return analyse_volume(volume, loaded=loaded).covid_probability
    plan = plan_study(volume.hu)
    return score_study(classify_slices(volume.hu, plan, loaded=loaded, batch_size=DEFAULT_BATCH_SIZE),
                       loaded=loaded).covid_probability


def volume_study_probability(volume: Volume, *, loaded: LoadedModel) -> float:
    """Return the volume model's calibrated probability of COVID-19 (as :mod:`inference.volume_analysis`)."""
    from inference.aggregate import calibrate_probabilities
    from inference.volume_analysis import class_probabilities_of
    from inference.volume_preprocess import geometry_from_card, prepare_volume

    model_input = prepare_volume(volume.hu, geometry=geometry_from_card(loaded.card))
    raw = float(np.asarray(loaded.model.predict(model_input[np.newaxis, ..., np.newaxis], verbose=0)).ravel()[0])
    calibrated = calibrate_probabilities(class_probabilities_of(raw, loaded=loaded), temperature=loaded.temperature)
    return float(calibrated[0][loaded.positive_index])


def main(argv: list[str] | None = None) -> None:
    from inference.registry import load_model
    from inference.volume_data import read_case_volume, read_training_folder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", required=True, help="labelled volume folder (repeatable)")
    parser.add_argument("--labels", action="append", help="labels CSV of the --data at the same position")
    parser.add_argument("--slice-model", required=True)
    parser.add_argument("--volume-model", required=True)
    parser.add_argument("--slice-held-out", action="store_true", help="slice model: card's held-out probabilities")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    labels_files = (args.labels or []) + [None] * (len(args.data) - len(args.labels or []))
    cases = [case for folder, labels in zip(args.data, labels_files, strict=True)
             for case in read_training_folder(folder, labels_csv=labels)]
    slice_model, volume_model = load_model(args.slice_model), load_model(args.volume_model)
    held_out = (slice_model.card.get("validation", {}).get("real_hu_studies", {}).get("held_out_study_probabilities", {})
                if args.slice_held_out else {})
    rows = []
    for case in cases:
        volume = read_case_volume(case.path)
        key = case.case_id.split("/")[1]  # the volume's top folder, as the card names it
        in_card = key in held_out
        rows.append({"case": case.case_id, "label": int(case.is_positive),
                     "slice": held_out[key]["covid_probability"] if in_card else slice_study_probability(volume, loaded=slice_model),
                     "slice_held_out": in_card, "volume": volume_study_probability(volume, loaded=volume_model)})
    report = {"slice_model": args.slice_model, "volume_model": args.volume_model, "cases": rows,
              **ensemble_report([r["label"] for r in rows], [r["slice"] for r in rows], [r["volume"] for r in rows])}
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
