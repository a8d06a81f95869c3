"""Per-slice lesion-feature table of the real HU volumes and of synthetic-lesion copies of them.

``python -m inference.feature_dataset --data ../shared/data --out var/hu-features.npz``

Same volumes, classes and groups as :mod:`inference.hu_dataset` (its docstring has the labelling
rules); rows are the :mod:`inference.lesion_features` of the lung slices the worker classifies
(:func:`inference.preprocess.plan_study`), computed from :func:`inference.quantify.quantify_volume`
of the whole volume, exactly as at inference.

Synthetic rows: a copy of a volume gets lesions (:mod:`inference.synth`) in blocks of
``2 x BLOCK_HALF_SLICES + 1`` neighbouring lesion-free slices (the same lesion footprint on each,
so that the 3-D vessel filter of the quantification sees a blob, not a one-slice plate), blocks
``BLOCK_STRIDE`` host slices apart; the copy is quantified whole and each touched slice is one row
of the pattern's class. Each copy uses other block positions (``offset``), ``copies`` per pattern.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from inference.dicom_io import Volume
from inference.hu_dataset import CLASS_NAMES, COVID, DOMAIN_REAL, DOMAIN_SYNTHETIC, PNEUMONIA, RealVolume, nysbu_chest_slices, real_volumes, slice_classes
from inference.lesion_features import FEATURE_NAMES, slice_features
from inference.preprocess import plan_study

BLOCK_HALF_SLICES = 1
BLOCK_STRIDE = 4
THICK_SLICE_MM = 5.0  # above this, neighbouring slices are too far apart to share a lesion footprint
MIN_HOST_LUNG_SHARE = 0.25
PATTERN_CLASSES = {"covid": COVID, "pneumonia": PNEUMONIA}


def quantified_features(volume: Volume, hu: np.ndarray | None = None, *, indices: np.ndarray | None = None,
                        ) -> tuple[np.ndarray, np.ndarray, object]:
    """Quantify ``hu`` (default the volume's own) and return (slice indices, their features, the quantification).

    ``indices`` default to the lung slices :func:`plan_study` picks for the model.
    """
    from inference.quantify import quantify_volume

    hu = volume.hu if hu is None else hu
    quantification = quantify_volume(hu, spacing_mm=volume.spacing_mm, orientation=volume.orientation,
                                     superior_first=volume.superior_first)
    indices = plan_study(hu).slice_indices if indices is None else np.asarray(indices, dtype=np.int64)
    return indices, slice_features(hu, quantification=quantification, spacing_mm=volume.spacing_mm, indices=indices), quantification


def lesion_blocks(hosts: np.ndarray, *, clean: np.ndarray, half: int, stride: int, offset: int) -> list[np.ndarray]:
    """Return blocks of slice indices ``[z - half, z + half]`` centred on every ``stride``-th host from ``offset``, all clean."""
    blocks = []
    for z in hosts[offset::stride]:
        block = np.arange(z - half, z + half + 1)
        if block.min() >= 0 and block.max() < clean.size and clean[block].all():
            blocks.append(block)
    return blocks


def synthetic_copy(real: RealVolume, *, lungs: object, pattern: str, blocks: list[np.ndarray],
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return (HU copy with lesions in every block, the slices whose HU the lesions changed)."""
    from inference.synth import insert_pattern

    hu = real.volume.hu.astype(np.float32)
    touched = []
    for block in blocks:
        centre = int(block[block.size // 2])
        lesioned, inserted = insert_pattern(hu[centre], left_lung=lungs.left[centre], right_lung=lungs.right[centre],
                                            pattern=pattern, pixel_mm=float(real.volume.spacing_mm[1]), rng=rng)
        for z in block:
            where = inserted & lungs.both[z]
            if where.any():
                hu[z] = np.where(where, np.maximum(hu[z], lesioned), hu[z]) if z != centre else lesioned
                touched.append(int(z))
    return hu, np.asarray(sorted(touched), dtype=np.int64)


def synthetic_rows(real: RealVolume, quantification: object, *, copies: int, rng: np.random.Generator,
                   ) -> Iterator[tuple[np.ndarray, int, np.ndarray]]:
    """Yield (features of the touched slices, class, their slice indices) for each synthetic copy of ``real``."""
    volume, lungs = real.volume, quantification.lungs
    lung_pixels = lungs.both.sum(axis=(1, 2))
    clean = real.infection == 0 if real.infection is not None else np.ones(volume.hu.shape[0], bool)
    clean &= lung_pixels > MIN_HOST_LUNG_SHARE * lung_pixels.max()
    hosts = np.array([z for z in plan_study(volume.hu).slice_indices if clean[z]], dtype=np.int64)
    thick = float(volume.spacing_mm[0]) > THICK_SLICE_MM
    half, stride = (0, 2) if thick else (BLOCK_HALF_SLICES, BLOCK_STRIDE)
    offsets = range(stride)
    for copy in range(copies * len(PATTERN_CLASSES)):
        pattern = list(PATTERN_CLASSES)[copy % len(PATTERN_CLASSES)]
        blocks = lesion_blocks(hosts, clean=clean, half=half, stride=stride, offset=offsets[copy % stride])
        hu, touched = synthetic_copy(real, lungs=lungs, pattern=pattern, blocks=blocks, rng=rng)
        if touched.size:
            indices, features, _ = quantified_features(volume, hu, indices=touched)
            yield features, PATTERN_CLASSES[pattern], indices


def build_feature_table(data_root: str | Path, *, copies: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Return the feature table (``features``, ``labels``, ``groups``, ``domains``, ``infection``, ``slice_index``)."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list[np.ndarray]] = {key: [] for key in ("features", "labels", "groups", "domains", "infection", "slice_index")}

    def add(features: np.ndarray, *, labels: np.ndarray, group: str, domain: str, infection: np.ndarray, index: np.ndarray) -> None:
        for key, value in (("features", features), ("labels", labels), ("groups", np.full(len(features), group)),
                           ("domains", np.full(len(features), domain)), ("infection", infection), ("slice_index", index)):
            rows[key].append(np.asarray(value))

    for real in tqdm(list(real_volumes(data_root)), desc="volumes (real + synthetic copies)", file=sys.stdout):
        indices, features, quantification = quantified_features(real.volume)
        infection = real.infection[indices] if real.infection is not None else np.full(indices.size, -1)
        add(features, labels=slice_classes(real)[indices], group=real.name, domain=DOMAIN_REAL, infection=infection, index=indices)
        for features, label, touched in synthetic_rows(real, quantification, copies=copies, rng=rng):
            add(features, labels=np.full(touched.size, label), group=real.name, domain=DOMAIN_SYNTHETIC,
                infection=np.ones(touched.size, np.int64), index=touched)
    for patient, volume in tqdm(list(nysbu_chest_slices(data_root)), desc="NY-SBU slices", file=sys.stdout):
        indices, features, _ = quantified_features(volume, indices=np.array([0]))
        add(features, labels=np.array([COVID]), group=patient, domain=DOMAIN_REAL, infection=np.array([-1]), index=indices)
    table = {key: np.concatenate(values) for key, values in rows.items()}
    table["features"] = table["features"].astype(np.float32)
    return {**table, "feature_names": np.asarray(FEATURE_NAMES), "class_names": np.asarray(CLASS_NAMES), "seed": np.int64(seed)}


def main(argv: list[str] | None = None) -> None:
    """Build the table: ``python -m inference.feature_dataset --data DIR --out FILE.npz [--copies 2]``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="shared data folder (holds dicom-covid-ct-md/ ...)")
    parser.add_argument("--out", required=True, type=Path, help="npz file to write")
    parser.add_argument("--copies", type=int, default=2, help="synthetic copies per pattern and volume")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    table = build_feature_table(args.data, copies=args.copies, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **table)
    keys = [f"{d}/{CLASS_NAMES[c]}" for d, c in zip(table["domains"], table["labels"])]
    print(f"wrote {args.out}: {len(keys)} slices {dict(zip(*np.unique(keys, return_counts=True)))}")


if __name__ == "__main__":
    main()
