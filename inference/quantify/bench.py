"""Benchmark quantification: ``python -m inference.quantify.bench [--slices 300] [--size 512]``.

Prints the seconds ``quantify_volume`` takes on a phantom and the ratio to a baseline measured in
the same run on the same volume: one ``scipy.ndimage.label`` pass over ``hu < -320``. Set
``OMP_NUM_THREADS=1`` (or use ``taskset -c 0``) to pin one CPU core.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Callable, Sequence

from scipy import ndimage

from inference.phantom import make_phantom_volume
from inference.quantify.report import quantify_volume


def best_seconds(run: Callable[[], object], *, repeats: int) -> float:
    """Return the fastest wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: Sequence[str] | None = None) -> None:
    """Time quantification against one labelling pass and print both as JSON."""
    parser = argparse.ArgumentParser(prog="python -m inference.quantify.bench", description=main.__doc__)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    hu, spacing_mm, _, _ = make_phantom_volume(slices=args.slices, size_px=args.size, severity="severe")
    baseline_s = best_seconds(lambda: ndimage.label(hu < -320.0), repeats=args.repeats)
    quantify_s = best_seconds(lambda: quantify_volume(hu, spacing_mm=spacing_mm), repeats=args.repeats)
    print(
        json.dumps(
            {
                "shape_zyx": list(hu.shape),
                "quantify_s": round(quantify_s, 3),
                "baseline_label_s": round(baseline_s, 3),
                "ratio": round(quantify_s / baseline_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
