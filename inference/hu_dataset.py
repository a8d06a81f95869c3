"""Real HU chest CT for training and validation, plus synthetic lesions in it, as one cached slice table.

``python -m inference.hu_dataset --data ../shared/data --out var/hu-slices-128.npz --size 128``

Every slice goes through the worker's own preprocessing (:func:`inference.preprocess.plan_study`
and :func:`inference.preprocess.render_model_slices`: lung slices, CT-2 lung window, body crop,
square resize), so the model trains on exactly what it sees at inference.

Classes (COVID-Net CT-2 order): 0 normal, 1 pneumonia (non-COVID), 2 covid. Slice labels:

- COVID-CT-MD volumes: a slice with the radiologists' infection label 1 takes the volume's class
  (covid / pneumonia), a slice with label 0 is normal; the normal volume is normal throughout.
- Lung-PET-CT-Dx ``Lung_Dx-A0002`` (lung cancer, no pneumonia): normal.
- COVID-19-NY-SBU: axial slices of COVID-19 patients whose body is at least
  ``NYSBU_MIN_LUNG_FRACTION`` lung (abdominal slices excluded by this rule) are covid.
- Synthetic: lesion-free lung slices of the volumes above with covid-like or pneumonia-like
  lesions inserted (:mod:`inference.synth`), weighted towards the lower zones for covid.

Each row carries its ``group`` (the source volume or patient): a synthetic slice belongs to the
volume it was made from, so leaving a volume out removes its synthetic children too.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from tqdm import tqdm

from inference.dicom_io import Volume, read_series, sort_slices
from inference.preprocess import plan_study, render_model_slices

CLASS_NAMES = ("normal", "pneumonia", "covid")
NORMAL, PNEUMONIA, COVID = range(3)
NYSBU_MIN_LUNG_FRACTION = 0.15
DOMAIN_REAL, DOMAIN_SYNTHETIC = "real", "synthetic"


@dataclass(frozen=True)
class RealVolume:
    """One real HU series with labels.

    Attributes
    ----------
    name : group id (volume or patient).
    volume : the decoded series.
    study_class : index into ``CLASS_NAMES`` of the study.
    infection : (z,) radiologists' per-slice infection label (0/1), or None when not labelled.
    """

    name: str
    volume: Volume
    study_class: int
    infection: np.ndarray | None


COVID_CT_MD = {"covid-P002": COVID, "cap-cap002": PNEUMONIA, "normal-normal002": NORMAL}


def read_labelled_series(folder: Path) -> tuple[Volume, np.ndarray | None]:
    """Read a series folder; return its volume and the ``slice-labels.csv`` infection labels in sorted order."""
    datasets = [pydicom.dcmread(path) for path in sorted(folder.rglob("*.dcm"))]
    ordered, _, _ = sort_slices(datasets)
    volume = read_series(ordered)
    labels_file = folder / "slice-labels.csv"
    if not labels_file.exists():
        return volume, None
    with labels_file.open(newline="") as handle:
        by_instance = {int(row["instance_number"]): int(row["infection"]) for row in csv.DictReader(handle)}
    return volume, np.array([by_instance.get(int(ds.InstanceNumber), 0) for ds in ordered], dtype=np.int64)


def real_volumes(data_root: str | Path) -> Iterator[RealVolume]:
    """Yield the labelled real volumes found under ``data_root`` (``../shared/data``); missing ones are skipped."""
    root = Path(data_root)
    for name, study_class in COVID_CT_MD.items():
        folder = root / "dicom-covid-ct-md" / name
        if folder.is_dir():
            volume, infection = read_labelled_series(folder)
            yield RealVolume(name, volume, study_class, infection)
    lung_dx = root / "dicom-series-lung-pet-ct-dx" / "Lung_Dx-A0002"
    if lung_dx.is_dir():
        volume, _ = read_labelled_series(lung_dx)
        yield RealVolume("Lung_Dx-A0002", volume, NORMAL, np.zeros(volume.hu.shape[0], dtype=np.int64))


def nysbu_chest_slices(data_root: str | Path) -> Iterator[tuple[str, Volume]]:
    """Yield (patient, one-slice volume) for each COVID-19-NY-SBU axial slice that is chest (lung fraction rule)."""
    for path in sorted(Path(data_root).glob("dicom-covid19-ny-sbu/*/axial/*.dcm")):
        volume = read_series([path])
        if float(plan_study(volume.hu).lung_fraction[0]) >= NYSBU_MIN_LUNG_FRACTION:
            yield f"nysbu-{path.parts[-3]}", volume


def slice_classes(real: RealVolume) -> np.ndarray:
    """Return each slice's class: the study class where infected, normal elsewhere (see the module docstring)."""
    infection = real.infection if real.infection is not None else np.ones(real.volume.hu.shape[0], np.int64)
    return np.where(infection > 0, real.study_class, NORMAL).astype(np.int64)


@dataclass
class SliceTable:
    """Model-input slices with their labels and provenance (one row per slice)."""

    images: list[np.ndarray]
    labels: list[int]
    groups: list[str]
    domains: list[str]
    infection: list[int]
    slice_index: list[int]

    def add(self, images: np.ndarray, *, labels: np.ndarray, group: str, domain: str, infection: np.ndarray,
            slice_index: np.ndarray) -> None:
        """Append rows (one per image)."""
        self.images.extend(images)
        self.labels.extend(int(v) for v in labels)
        self.groups.extend([group] * len(images))
        self.domains.extend([domain] * len(images))
        self.infection.extend(int(v) for v in infection)
        self.slice_index.extend(int(v) for v in slice_index)

    def save(self, path: Path, *, size_px: int, seed: int) -> None:
        """Write the table as a compressed npz."""
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path, images=np.stack(self.images).astype(np.uint8), labels=np.asarray(self.labels, np.int64),
            groups=np.asarray(self.groups), domains=np.asarray(self.domains),
            infection=np.asarray(self.infection, np.int64), slice_index=np.asarray(self.slice_index, np.int64),
            class_names=np.asarray(CLASS_NAMES), size_px=np.int64(size_px), seed=np.int64(seed))


def synthetic_slices(real: RealVolume, *, size_px: int, per_class: int, rng: np.random.Generator,
                     ) -> Iterator[tuple[np.ndarray, int, int]]:
    """Yield (model-input slice, class, source z) with synthetic lesions in the volume's lesion-free lung slices."""
    from inference.quantify import segment_lungs
    from inference.synth import insert_pattern

    volume = real.volume
    plan = plan_study(volume.hu)
    lungs = segment_lungs(volume.hu, spacing_mm=volume.spacing_mm, orientation=volume.orientation)
    lung_pixels = lungs.both.sum(axis=(1, 2))
    clean = real.infection == 0 if real.infection is not None else np.ones(volume.hu.shape[0], bool)
    hosts = np.array([z for z in plan.slice_indices if clean[z] and lung_pixels[z] > 0.25 * lung_pixels.max()])
    if hosts.size == 0:
        return
    # Depth 0 = most superior lung slice, 1 = most inferior: covid prefers the lower zones.
    depth = (hosts - hosts.min()) / max(hosts.max() - hosts.min(), 1)
    depth = depth if volume.superior_first else 1 - depth
    for pattern, label, weights in (("covid", COVID, 0.4 + depth), ("pneumonia", PNEUMONIA, np.ones(hosts.size))):
        for z in rng.choice(hosts, size=per_class, p=weights / weights.sum()):
            slice_hu, _ = insert_pattern(volume.hu[z], left_lung=lungs.left[z], right_lung=lungs.right[z], pattern=pattern,
                                         pixel_mm=float(volume.spacing_mm[1]), rng=rng)
            yield render_model_slices(slice_hu[np.newaxis], plan, indices=np.array([0]), size_px=size_px)[0], label, int(z)


def build_table(data_root: str | Path, *, size_px: int, synthetic_per_class: int, seed: int = 0) -> SliceTable:
    """Collect real lung slices and synthetic ones of every labelled volume under ``data_root``."""
    rng = np.random.default_rng(seed)
    table = SliceTable([], [], [], [], [], [])
    volumes = list(tqdm(real_volumes(data_root), desc="read volumes", file=sys.stdout))
    for real in volumes:
        plan = plan_study(real.volume.hu)
        indices = plan.slice_indices
        images = render_model_slices(real.volume.hu, plan, indices=indices, size_px=size_px)
        infection = real.infection[indices] if real.infection is not None else np.full(indices.size, -1)
        table.add(images, labels=slice_classes(real)[indices], group=real.name, domain=DOMAIN_REAL, infection=infection,
                  slice_index=indices)
    for patient, volume in nysbu_chest_slices(data_root):
        plan = plan_study(volume.hu)
        images = render_model_slices(volume.hu, plan, indices=np.array([0]), size_px=size_px)
        table.add(images, labels=np.array([COVID]), group=patient, domain=DOMAIN_REAL, infection=np.array([-1]),
                  slice_index=np.array([0]))
    for real in volumes:
        made = list(tqdm(synthetic_slices(real, size_px=size_px, per_class=synthetic_per_class, rng=rng),
                         total=2 * synthetic_per_class, desc=f"synthetic {real.name}", file=sys.stdout))
        if made:
            images, labels, source_z = (np.asarray(v) for v in zip(*made))
            table.add(images, labels=labels, group=real.name, domain=DOMAIN_SYNTHETIC,
                      infection=(labels != NORMAL).astype(np.int64), slice_index=source_z)
    return table


def main(argv: list[str] | None = None) -> None:
    """Build the slice cache: ``python -m inference.hu_dataset --data DIR --out FILE.npz [--size 128]``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="shared data folder (holds dicom-covid-ct-md/ ...)")
    parser.add_argument("--out", required=True, type=Path, help="npz file to write")
    parser.add_argument("--size", type=int, default=128, help="model input side in pixels")
    parser.add_argument("--synthetic-per-class", type=int, default=250, help="synthetic slices per class and volume")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    table = build_table(args.data, size_px=args.size, synthetic_per_class=args.synthetic_per_class, seed=args.seed)
    table.save(args.out, size_px=args.size, seed=args.seed)
    counts = {f"{d}/{CLASS_NAMES[c]}": 0 for d in (DOMAIN_REAL, DOMAIN_SYNTHETIC) for c in range(3)}
    for domain, label in zip(table.domains, table.labels):
        counts[f"{domain}/{CLASS_NAMES[label]}"] += 1
    print(f"wrote {args.out}: {len(table.labels)} slices {counts}")


if __name__ == "__main__":
    main()
