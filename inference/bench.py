"""Benchmark inference speed: ``python -m inference.bench --model-only [--sizes 256 512] [--variant s]``.

Modes are entries of ``MODES`` (name -> runner taking the parsed arguments); the
bare-model mode times ``model.predict`` on random uint8 slices after a warm-up batch.
A full-pipeline mode (``--json``/``--quick``) can be added as another entry.
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


MODES: dict[str, Callable[[argparse.Namespace], None]] = {"model_only": run_model_only}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the benchmark command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-only", action="store_true", help="time the bare model forward pass")
    parser.add_argument("--variant", choices=("s", "l"), default="s")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=5)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the selected benchmark mode."""
    args = parse_args(argv)
    if not args.model_only:
        raise SystemExit("only --model-only is implemented; the pipeline mode is a separate MODES entry to add")
    MODES["model_only"](args)


if __name__ == "__main__":
    main()
