"""Evaluate a registered model on a class-folder dataset: metrics table, JSON, ROC and reliability PNGs.

``python -m inference.evaluate --data DIR [--model NAME/VERSION] [--split-file F] --json OUT.json``

Positive class: the ``covid`` folder; score: the model's calibrated COVID-19 probability.
With ``--split-file`` only that file's ``test`` list (or ``--split``) is evaluated, which
reproduces the model card's test figures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from inference.datasets import list_slice_dataset, load_model_inputs, read_split_paths
from inference.metrics import METRIC_NAMES, binary_metrics, expected_calibration_error, reliability_curve, roc_curve
from inference.classify import predict_slice_probabilities
from inference.plots import draw_unit_square_chart
from inference.registry import WEIGHTS_ROOT, load_model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the evaluation command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="directory with one subfolder of slices per class")
    parser.add_argument("--model", default=None, help="NAME or NAME/VERSION under inference/weights (default: active)")
    parser.add_argument("--weights-root", type=Path, default=WEIGHTS_ROOT, help="registry root holding NAME/VERSION folders")
    parser.add_argument("--split-file", default=None, help="splits.json written by inference.train")
    parser.add_argument("--split", default="test", help="which list of the split file to evaluate")
    parser.add_argument("--json", required=True, help="output JSON path; PNG plots are written beside it")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--n-boot", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=16)
    return parser.parse_args(argv)


def format_table(metrics: dict[str, Any]) -> str:
    """Return a plain-text table of the metrics with their 95 % CIs."""
    rows = [f"{'metric':<12}{'value':>8}   95 % CI"]
    for name in METRIC_NAMES:
        value, interval = metrics[name]["value"], metrics[name]["ci95"]
        shown = "n/a" if value is None else f"{value:.3f}"
        rows.append(f"{name:<12}{shown:>8}   " + ("n/a" if interval is None else f"[{interval[0]:.3f}, {interval[1]:.3f}]"))
    return "\n".join(rows)


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Predict every selected slice, compute metrics and curves, write the JSON and PNGs; return the report."""
    loaded = load_model(args.model, root=args.weights_root)
    if "input_size_px" not in loaded.card:
        raise SystemExit(f"{loaded.card['name']} is a {loaded.kind} model without pixel input: it scores HU volumes, not image files")
    dataset = list_slice_dataset(args.data)
    if args.split_file:
        dataset = dataset.subset(read_split_paths(args.split_file, split=args.split))
    probabilities = predict_slice_probabilities(loaded, load_model_inputs(dataset, size_px=int(loaded.card["input_size_px"])),
                                                batch_size=args.batch_size)
    is_positive = (dataset.labels == dataset.positive_index).astype(np.int64)
    covid_probability = probabilities[:, loaded.positive_index]
    metrics = binary_metrics(is_positive, covid_probability, threshold=args.threshold, n_boot=args.n_boot)
    fpr, tpr, _ = roc_curve(is_positive, covid_probability)
    reliability = reliability_curve(is_positive, covid_probability)
    report = {
        "model": f"{loaded.card['name']}/{loaded.card['version']}", "data": str(dataset.root), "split_file": args.split_file,
        "positive_class": dataset.class_names[dataset.positive_index], "n": metrics["n"],
        "threshold": args.threshold, "confusion_matrix": metrics["confusion_matrix"],
        "metrics": {name: metrics[name] for name in METRIC_NAMES},
        "ece": expected_calibration_error(is_positive, covid_probability),
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
        "reliability": {key: value.tolist() for key, value in reliability.items()},
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    draw_unit_square_chart(out.with_name(f"{out.stem}_roc.png"), xs=fpr, ys=tpr, title=f"ROC (AUC {_short(metrics['auc']['value'])})",
                           x_label="1 - specificity", y_label="sensitivity")
    draw_unit_square_chart(out.with_name(f"{out.stem}_reliability.png"), xs=reliability["mean_predicted"],
                           ys=reliability["fraction_positive"], title=f"Reliability (ECE {_short(report['ece'])})",
                           x_label="mean predicted probability", y_label="fraction COVID", markers=True)
    return report


def _short(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the evaluation CLI and print its table."""
    report = evaluate(parse_args(argv))
    print(f"model {report['model']}  n={report['n']}  confusion [[TN, FP], [FN, TP]] = {report['confusion_matrix']}")
    print(format_table(report["metrics"]))
    print(f"ECE {_short(report['ece'])}")
    return report


if __name__ == "__main__":
    main()
