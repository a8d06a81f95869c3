"""Benchmark the 3D volume model against the 2D slice model in the same run.

    python -m inference.bench_volume [--volume-model NAME/VERSION] [--slice-model NAME/VERSION]
                                     [--slices 120] [--size-px 512] [--variants shallow densenet264]

1. Bare 3D models: volumes/s of each ``--variants`` configuration on random inputs of the volume
   model's geometry (batch 1, after one warm-up call).
2. Whole study: ``analyse_series`` (decode → classify → quantify → explain) on one generated phantom
   series with the volume model and with the slice model (default: the active one), each after a
   warm-up study; seconds per study and their ratio. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from inference.volume_preprocess import VolumeGeometry, geometry_from_card

DEFAULT_VOLUME_MODEL = "covidnet3d-shallow"


def bench_volume_model(variant: str, *, geometry: VolumeGeometry, repeats: int) -> float:
    """Return volumes/s of a bare, untrained model of ``variant`` (batch 1, one warm-up call first)."""
    from inference.models.covidnet3d import build_volume_model

    model = build_volume_model(variant, geometry=geometry)
    volume = np.random.default_rng(0).random((1, *geometry.input_shape), dtype=np.float32)
    model.predict_on_batch(volume)
    started = time.perf_counter()
    for _ in range(repeats):
        model.predict_on_batch(volume)
    return repeats / (time.perf_counter() - started)


def seconds_per_study(files: list[Path], *, reference: str | None) -> tuple[float, dict[str, float]]:
    """Return the wall seconds of one ``analyse_series`` after a warm-up study, and its stage seconds."""
    from inference.analysis import analyse_series
    from inference.registry import load_model

    loaded = load_model(reference)
    analyse_series(files, loaded=loaded)
    started = time.perf_counter()
    analysis = analyse_series(files, loaded=loaded)
    return time.perf_counter() - started, analysis.stage_seconds


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run both benchmarks and print a JSON line last."""
    from inference.phantom import write_phantom_series
    from inference.registry import WEIGHTS_ROOT, model_directory, read_model_card

    parser = argparse.ArgumentParser(prog="python -m inference.bench_volume", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volume-model", default=DEFAULT_VOLUME_MODEL)
    parser.add_argument("--slice-model", default=None, help="default: the active model")
    parser.add_argument("--slices", type=int, default=120)
    parser.add_argument("--size-px", type=int, default=512)
    parser.add_argument("--variants", nargs="+", default=["shallow", "densenet264"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    volume_reference = str(model_directory(args.volume_model).relative_to(WEIGHTS_ROOT))
    geometry = geometry_from_card(read_model_card(volume_reference))
    report: dict[str, Any] = {"geometry": geometry.input_shape[:3], "model_volumes_per_s": {}}
    for variant in args.variants:
        rate = bench_volume_model(variant, geometry=geometry, repeats=args.repeats)
        report["model_volumes_per_s"][variant] = round(rate, 3)
        print(f"bare 3D {variant} at {geometry.input_shape[:3]}: {rate:.2f} volumes/s", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        write_phantom_series(Path(folder), slices=args.slices, size_px=args.size_px, severity="moderate", seed=1)
        files = sorted(Path(folder).glob("*.dcm"))
        volume_s, volume_stages = seconds_per_study(files, reference=volume_reference)
        slice_s, slice_stages = seconds_per_study(files, reference=args.slice_model)
    report |= {
        "study": f"{args.slices} slices of {args.size_px}px",
        "volume_model": volume_reference, "volume_seconds_per_study": round(volume_s, 3),
        "volume_stage_seconds": volume_stages,
        "slice_model": args.slice_model or "active", "slice_seconds_per_study": round(slice_s, 3),
        "slice_stage_seconds": slice_stages,
        "volume_to_slice_speed_ratio": round(slice_s / volume_s, 3),
    }
    print(f"study with the 3D model: {volume_s:.2f} s; with the 2D model: {slice_s:.2f} s "
          f"(3D is {slice_s / volume_s:.2f}x the 2D speed)", flush=True)
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
