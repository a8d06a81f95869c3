"""Benchmark inference speed.

- ``python -m inference.bench --model-only [--sizes 256 512] [--variant s]``: bare model
  slices/s on random uint8 slices after a warm-up batch.
- ``python -m inference.bench --json [--quick]``: the whole compute pipeline (decode → HU →
  preprocess → model → aggregate → quantify → explain) of the active model on a generated
  300-slice 512² phantom series (``--quick``: 60 slices), and the bare model at the same batch
  and input size in the same run. The last line is one JSON object.
- ``python -m inference.bench --stages [--quick]``: the analysis as three stages
  (:mod:`inference.stages`): the GPU stage's slices/s against the bare model in the same run,
  and a study's seconds split (prepare + classify + finish) against the one-process path.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ModelBenchResult:
    """Throughput of a bare model forward pass."""

    variant: str
    size_px: int
    batch_size: int
    batches: int
    slices_per_s: float


def bench_model(variant: str, *, size_px: int, batch_size: int = 8, batches: int = 5, seed: int = 0) -> ModelBenchResult:
    """Time ``batches`` predict calls of ``batch_size`` random slices after one warm-up call."""
    from inference.models import build_model

    model = build_model(variant, input_size_px=size_px, num_classes=2)
    slices = np.random.default_rng(seed).integers(0, 256, size=(batch_size, size_px, size_px, 1)).astype(np.float32)
    model.predict_on_batch(slices)
    started = time.perf_counter()
    for _ in range(batches):
        model.predict_on_batch(slices)
    elapsed = time.perf_counter() - started
    return ModelBenchResult(variant, size_px, batch_size, batches, batch_size * batches / elapsed)


def run_model_only(args: argparse.Namespace) -> None:
    """Print bare-model slices/s for each requested size."""
    for size in args.sizes:
        result = bench_model(args.variant, size_px=size, batch_size=args.batch_size, batches=args.batches)
        print(f"model {result.variant} {size}x{size}: {result.slices_per_s:.1f} slices/s "
              f"(batch {result.batch_size}, {result.batches} timed batches)", flush=True)


def pixel_model(reference: str | None):
    """Load a model that takes slices (these benches time its forward pass); refuse any other, with the reason."""
    from inference.registry import load_model

    loaded = load_model(reference)
    if "input_size_px" not in loaded.card:
        raise SystemExit(f"{loaded.card['name']} is a {loaded.kind} model: this bench compares the pipeline with a pixel model's "
                         "forward pass; pass --model of a slice model")
    return loaded


def run_pipeline(args: argparse.Namespace) -> None:
    """Time ``analyse_series`` on a phantom series against the bare model; print one JSON line last."""
    import json
    import tempfile
    from pathlib import Path

    from inference.analysis import analyse_series
    from inference.phantom import write_phantom_series

    slices = 60 if args.quick else 300
    loaded = pixel_model(args.model)
    size_px = int(loaded.card["input_size_px"])
    with tempfile.TemporaryDirectory() as folder:
        write_phantom_series(Path(folder), slices=slices, size_px=512, severity="moderate", seed=1)
        files = sorted(Path(folder).glob("*.dcm"))
        print(f"pipeline: {slices} slices of 512x512, model {loaded.card['name']} {loaded.card['version']} "
              f"at {size_px}px, batch {args.batch_size}", flush=True)
        analyse_series(files[: min(len(files), 2 * args.batch_size)], loaded=loaded, batch_size=args.batch_size)
        started = time.perf_counter()
        analysis = analyse_series(files, loaded=loaded, batch_size=args.batch_size)
        pipeline_s = time.perf_counter() - started
    model = bench_model(loaded.card["variant"], size_px=size_px, batch_size=args.batch_size,
                        batches=max(args.batches, 2))
    report = {
        "slices": slices,
        "slices_classified": len(analysis.slice_scores),
        "input_size_px": size_px,
        "batch_size": args.batch_size,
        "model_slices_per_s": round(model.slices_per_s, 2),
        "pipeline_slices_per_s": round(slices / pipeline_s, 2),
        "pipeline_to_model_ratio": round(slices / pipeline_s / model.slices_per_s, 3),
        "pipeline_seconds": round(pipeline_s, 3),
        "stage_seconds": analysis.stage_seconds,
    }
    for stage, seconds in analysis.stage_seconds.items():
        print(f"  {stage:<10} {seconds:8.2f} s", flush=True)
    print(json.dumps(report))


def run_stages(args: argparse.Namespace) -> None:
    """Time the three-stage analysis of a phantom series: the GPU stage against the bare model, the study split vs whole.

    The GPU stage is timed as a gpu worker runs it: read the prepared blob, model and Grad-CAM,
    write its blob; in turns with it, the bare model (the same loaded model's forward pass on the
    same slices and batches). The CPU stages (prepare, finish) are timed apart, as other
    processes run them. The one-process path (:func:`~inference.analysis.analyse_series`) is the unsplit
    baseline. Last line: one JSON object.
    """
    import json
    import tempfile
    from pathlib import Path

    from inference.analysis import StageTimer, analyse_series
    from inference.dicom_io import read_series
    from inference.phantom import write_phantom_series
    from inference.stages import classify_prepared, finish_analysis, from_npz, padded_batches, prepare_slices, to_npz

    slices = 60 if args.quick else 300
    loaded = pixel_model(args.model)
    size_px = int(loaded.card["input_size_px"])

    def prepare(files) -> bytes:
        timer = StageTimer()
        with timer.stage("decode"):
            volume = read_series(files)
        return to_npz(prepare_slices(volume, card=loaded.card, timer=timer), header={})

    def classify(blob: bytes) -> tuple[bytes, int, dict[str, float]]:
        prepared, header = from_npz(blob)
        timer = StageTimer()
        classified = classify_prepared(prepared, loaded=loaded, batch_size=args.batch_size, timer=timer)
        return to_npz(classified, header=header), len(prepared.slices_uint8), timer.seconds

    def finish(files, blob: bytes):
        classified, _ = from_npz(blob)
        timer = StageTimer(classified.stage_seconds)
        with timer.stage("decode"):
            volume = read_series(files)
        return finish_analysis(volume, classified, card=loaded.card, timer=timer)

    with tempfile.TemporaryDirectory() as folder:
        write_phantom_series(Path(folder), slices=slices, size_px=512, severity="moderate", seed=1)
        files = sorted(Path(folder).glob("*.dcm"))
        print(f"stages: {slices} slices of 512x512, model {loaded.card['name']} {loaded.card['version']} "
              f"at {size_px}px, batch {args.batch_size}", flush=True)
        warm = files[: min(len(files), 2 * args.batch_size)]
        analyse_series(warm, loaded=loaded, batch_size=args.batch_size)
        classify(prepare(warm))
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        whole = analyse_series(files, loaded=loaded, batch_size=args.batch_size)
        seconds["unsplit"] = time.perf_counter() - started
        started = time.perf_counter()
        prepared_blob = prepare(files)
        seconds["prepare"] = time.perf_counter() - started
        # The GPU stage again and again, as a gpu worker fed by CPU workers, each run next to the bare
        # forward pass of the same model on the same slices and batches: on a shared machine the load
        # changes from second to second, so the two are timed in turns and their medians compared.
        slices_uint8 = from_npz(prepared_blob)[0].slices_uint8
        stage_runs, model_runs = [], []
        for _ in range(max(args.batches, 3)):
            started = time.perf_counter()
            for batch in padded_batches(slices_uint8, args.batch_size):
                loaded.model.predict_on_batch(batch[..., np.newaxis])
            model_runs.append(time.perf_counter() - started)
            started = time.perf_counter()
            classified_blob, classified_slices, gpu_stages = classify(prepared_blob)
            stage_runs.append(time.perf_counter() - started)
        seconds["classify"] = float(np.median(stage_runs))
        model_slices_per_s = classified_slices / float(np.median(model_runs))
        started = time.perf_counter()
        staged = finish(files, classified_blob)
        seconds["finish"] = time.perf_counter() - started
    gpu_stage_rate = classified_slices / seconds["classify"]
    split_s = seconds["prepare"] + seconds["classify"] + seconds["finish"]
    report = {
        "slices": slices,
        "slices_classified": classified_slices,
        "input_size_px": size_px,
        "batch_size": args.batch_size,
        "model_slices_per_s": round(model_slices_per_s, 2),
        "gpu_stage_slices_per_s": round(gpu_stage_rate, 2),
        "gpu_stage_to_model_ratio": round(gpu_stage_rate / model_slices_per_s, 3),
        "gpu_stage_study_slices_per_s": round(slices / seconds["classify"], 2),
        "stage_seconds": {name: round(value, 3) for name, value in seconds.items()},
        "gpu_stage_seconds": gpu_stages,  # model forward (classify), calibration (aggregate), Grad-CAM (explain)
        "split_seconds": round(split_s, 3),
        "split_to_unsplit_latency_ratio": round(split_s / seconds["unsplit"], 3),
        "same_probability": abs(staged.covid_probability - whole.covid_probability) < 1e-4,
    }
    print(f"  gpu stage {gpu_stage_rate:8.1f} slices/s vs bare model {model_slices_per_s:8.1f} slices/s "
          f"= {report['gpu_stage_to_model_ratio']:.2f}", flush=True)
    print(f"  study: prepare {seconds['prepare']:.2f} + classify {seconds['classify']:.2f} + finish "
          f"{seconds['finish']:.2f} = {split_s:.2f} s split vs {seconds['unsplit']:.2f} s in one process "
          f"({report['split_to_unsplit_latency_ratio']:.2f}x)", flush=True)
    print(json.dumps(report))


MODES: dict[str, Callable[[argparse.Namespace], None]] = {"model_only": run_model_only, "pipeline": run_pipeline,
                                                           "stages": run_stages}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the benchmark command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-only", action="store_true", help="time the bare model forward pass")
    parser.add_argument("--json", action="store_true", help="time the whole pipeline; last line is JSON")
    parser.add_argument("--stages", action="store_true",
                        help="time the GPU stage against the bare model and the study split vs whole; last line is JSON")
    parser.add_argument("--quick", action="store_true", help="pipeline on 60 slices instead of 300")
    parser.add_argument("--model", default=None, help="<name>/<version> of the pipeline model (default: active)")
    parser.add_argument("--variant", choices=("s", "l"), default="s")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=5)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the selected benchmark mode."""
    args = parse_args(argv)
    chosen = [mode for mode, on in (("model_only", args.model_only), ("pipeline", args.json), ("stages", args.stages)) if on]
    if len(chosen) != 1:
        raise SystemExit("choose one mode: --model-only, --json or --stages")
    MODES[chosen[0]](args)


if __name__ == "__main__":
    main()
