"""Benchmark quantification: ``python -m inference.quantify.bench [--slices 300] [--size 512]``.

Prints, for one phantom and in the same run, the seconds of today's ``quantify_volume`` and of the
algorithm it replaced (lung segmentation plus the pre-Hessian lesion rule, frozen below as
``reference_lesions``: HU > -750 in the lung, opened in-plane with a 2.5 mm core, components under
0.1 ml dropped), and their ratio, plus the seconds of the airway step alone (trachea, growth, wall
shell; :mod:`inference.quantify.airways`), which ``quantify_s`` includes. Set ``OMP_NUM_THREADS=1`` (or use ``taskset -c 0``) to pin one
CPU core, as in the worker where quantification runs beside classification.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Callable, Sequence

import numpy as np

from inference.phantom import make_phantom_volume
from inference.quantify.airways import segment_airways
from inference.quantify.lungs import segment_lungs
from inference.quantify.morphology import bounding_box, drop_small_components, keep_thick_parts
from inference.quantify.report import quantify_volume


def reference_lesions(hu_volume: np.ndarray, *, lung_mask: np.ndarray, spacing_mm: Sequence[float]) -> np.ndarray:
    """Return the lesion mask of the replaced rule (kept here only as the bench's baseline)."""
    labels = np.zeros(hu_volume.shape, dtype=bool)
    box = bounding_box(lung_mask, margin_px=1)
    if box is None:
        return labels
    candidates = lung_mask[box] & (hu_volume[box] > -750.0)
    lesion = keep_thick_parts(candidates, radius_px=math.ceil(2.5 / float(min(spacing_mm[1], spacing_mm[2]))))
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    labels[box] = drop_small_components(lesion, min_voxels=max(1, math.ceil(0.1 / voxel_ml)))
    return labels


def reference_quantify(hu_volume: np.ndarray, *, spacing_mm: Sequence[float]) -> np.ndarray:
    """Run the replaced pipeline: lungs, then the reference lesion rule."""
    lungs = segment_lungs(hu_volume, spacing_mm=spacing_mm)
    return reference_lesions(hu_volume, lung_mask=lungs.both, spacing_mm=spacing_mm)


def best_seconds(run: Callable[[], object], *, repeats: int) -> float:
    """Return the fastest wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: Sequence[str] | None = None) -> None:
    """Time today's quantification against the replaced algorithm on one phantom and print both as JSON."""
    parser = argparse.ArgumentParser(prog="python -m inference.quantify.bench", description=main.__doc__)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    hu, spacing_mm, _, _ = make_phantom_volume(slices=args.slices, size_px=args.size, severity="severe")
    old_s = best_seconds(lambda: reference_quantify(hu, spacing_mm=spacing_mm), repeats=args.repeats)
    new_s = best_seconds(lambda: quantify_volume(hu, spacing_mm=spacing_mm), repeats=args.repeats)
    airways_s = best_seconds(lambda: segment_airways(hu, spacing_mm=spacing_mm), repeats=args.repeats)
    print(json.dumps({"shape_zyx": list(hu.shape), "quantify_s": round(new_s, 3), "replaced_algorithm_s": round(old_s, 3),
                      "ratio_new_to_old": round(new_s / old_s, 2), "airways_s": round(airways_s, 3)}))


if __name__ == "__main__":
    main()
