"""Read labelled CT volumes for training: a folder with ``labels.csv`` and one volume per row.

The folder layout is the one ``manage.py export_training_set`` writes, and what both training CLIs
read (:func:`read_training_folder`). ``labels.csv`` columns:

- ``volume``: path relative to the folder of a DICOM series folder (every file in it is a slice)
  or of a NIfTI file (``.nii`` / ``.nii.gz``, read with nibabel);
- ``patient``: a (pseudonymous) patient key: splits never put one patient in two sets;
- ``label``: ``covid`` (positive) or one of ``NEGATIVE_LABELS``;
- optional ``label_source`` (``pcr`` / ``radiologist``), ``study_date``, ``scanner``: kept as metadata.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.dicom_io import Volume, read_series

LABELS_FILE = "labels.csv"
POSITIVE_LABEL = "covid"
NEGATIVE_LABELS = ("non-covid", "pneumonia", "normal")
REQUIRED_COLUMNS = ("volume", "patient", "label")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
SORT_BY_NIFTI_AFFINE = "nifti_affine"


class TrainingFolderError(ValueError):
    """A training folder or one of its rows cannot be used; the message names the file and row."""


@dataclass(frozen=True)
class TrainingCase:
    """One labelled volume of a training folder."""

    path: Path
    case_id: str  # ``<source>/<volume path in the labels file>``, unique across folders
    patient: str
    is_positive: bool
    source: str  # the folder's name: metrics are reported per data source
    metadata: dict[str, str] = field(default_factory=dict)


def _label_is_positive(value: str, *, where: str) -> bool:
    label = value.strip().lower()
    if label == POSITIVE_LABEL:
        return True
    if label in NEGATIVE_LABELS:
        return False
    raise TrainingFolderError(f"{where}: label {value!r} is not {POSITIVE_LABEL!r} or one of {list(NEGATIVE_LABELS)}")


def read_training_folder(root: str | Path, *, labels_csv: str | Path | None = None) -> list[TrainingCase]:
    """Return the cases listed in ``root/labels.csv``, checking columns, labels and that each volume exists.

    ``labels_csv`` names a labels file kept elsewhere (a read-only data folder); its ``volume``
    paths are still relative to ``root``.
    """
    folder = Path(root)
    labels_path = Path(labels_csv) if labels_csv is not None else folder / LABELS_FILE
    if not labels_path.is_file():
        raise TrainingFolderError(f"{labels_path} is missing: a training folder needs a {LABELS_FILE}")
    with labels_path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in REQUIRED_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise TrainingFolderError(f"{labels_path} lacks the column(s) {missing}")
        cases = []
        for line, row in enumerate(reader, start=2):
            where = f"{labels_path}, line {line}"
            path = folder / row["volume"]
            if not path.exists():
                raise TrainingFolderError(f"{where}: volume {row['volume']!r} does not exist")
            metadata = {key: value for key, value in row.items() if key not in REQUIRED_COLUMNS and value}
            cases.append(TrainingCase(path, f"{folder.name}/{row['volume']}", row["patient"],
                                      _label_is_positive(row["label"], where=where), folder.name, metadata))
    if not cases:
        raise TrainingFolderError(f"{labels_path} lists no volumes")
    return cases


def is_nifti(path: Path) -> bool:
    """Return True for a ``.nii`` or ``.nii.gz`` file name."""
    return path.name.endswith(NIFTI_SUFFIXES)


def read_nifti(path: str | Path) -> Volume:
    """Read a NIfTI CT volume into the DICOM reader's layout: HU ``(z, y, x)``, x to patient left, y posterior.

    nibabel applies ``scl_slope``/``scl_inter``; the image is first reoriented to RAS+, then x and y
    are flipped (RAS → LPS, as DICOM slices are displayed) and z runs inferior to superior, as
    :func:`inference.dicom_io.read_series` sorts slices.
    """
    import nibabel as nib

    image = nib.as_closest_canonical(nib.load(str(path)))
    data = np.asarray(image.get_fdata(dtype=np.float32))
    if data.ndim != 3:
        raise TrainingFolderError(f"{path}: a CT volume has three axes, this NIfTI has shape {data.shape}")
    hu = np.ascontiguousarray(data[::-1, ::-1, :].transpose(2, 1, 0), dtype=np.float32)
    x_mm, y_mm, z_mm = (float(v) for v in image.header.get_zooms()[:3])
    positions = np.arange(hu.shape[0], dtype=np.float64) * z_mm
    return Volume(hu, (z_mm, y_mm, x_mm), (1.0, 0.0, 0.0, 0.0, 1.0, 0.0), positions, SORT_BY_NIFTI_AFFINE)


def read_case_volume(path: str | Path) -> Volume:
    """Read one training volume: a NIfTI file or a folder of DICOM slices (every file in it)."""
    location = Path(path)
    if is_nifti(location):
        return read_nifti(location)
    files = sorted(p for p in location.iterdir() if p.is_file() and p.suffix.lower() in (".dcm", ""))
    if not files:
        raise TrainingFolderError(f"{location}: no DICOM files (.dcm or no suffix) in this series folder")
    return read_series(files)


def write_nifti(path: str | Path, volume_hu: np.ndarray, *, spacing_mm: tuple[float, float, float]) -> Path:
    """Write a HU ``(z, y, x)`` volume in :func:`read_nifti`'s layout as int16 NIfTI (RAS+ affine)."""
    import nibabel as nib

    z_mm, y_mm, x_mm = spacing_mm
    data = np.rint(np.asarray(volume_hu).transpose(2, 1, 0)[::-1, ::-1, :]).astype(np.int16)
    image = nib.Nifti1Image(data, np.diag([x_mm, y_mm, z_mm, 1.0]))
    image.header.set_xyzt_units("mm")
    nib.save(image, str(path))
    return Path(path)


def write_phantom_training_folder(out: str | Path, *, count: int, slices: int = 48, size_px: int = 128,
                                  seed: int = 0) -> list[TrainingCase]:
    """Write ``count`` phantom volumes as NIfTI with a ``labels.csv``: half without lesions, half with.

    Phantoms with lesions (mild, moderate or severe) are labelled ``covid`` and those without
    ``normal``: a stand-in task (lesion present or not), not COVID-19 against other pneumonia.
    """
    from tqdm import tqdm

    from inference.phantom import make_phantom_volume

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for index in tqdm(range(count), desc="phantoms", unit="volume"):
        severity = "none" if index % 2 == 0 else str(rng.choice(["mild", "moderate", "severe"]))
        hu, spacing_mm, _, _ = make_phantom_volume(slices=slices, size_px=size_px, severity=severity,
                                                   seed=seed * 100_003 + index)
        name = f"phantom-{index:04d}.nii.gz"
        write_nifti(folder / name, hu[::-1], spacing_mm=spacing_mm)  # phantom slice 0 is superior
        rows.append({"volume": name, "patient": f"phantom-{index:04d}",
                     "label": "normal" if severity == "none" else POSITIVE_LABEL,
                     "label_source": "generated", "scanner": f"phantom ({severity})"})
    write_labels_csv(folder, rows)
    return read_training_folder(folder)


def write_labels_csv(folder: str | Path, rows: list[dict[str, str]]) -> Path:
    """Write a training folder's ``labels.csv`` (``REQUIRED_COLUMNS`` first, then each row's other keys)."""
    extra = sorted({key for row in rows for key in row} - set(REQUIRED_COLUMNS))
    path = Path(folder) / LABELS_FILE
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*REQUIRED_COLUMNS, *extra])
        writer.writeheader()
        writer.writerows(rows)
    return path


def main(argv: list[str] | None = None) -> None:
    """Write a phantom training folder: ``python -m inference.volume_data --out DIR --count N [--seed S]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m inference.volume_data", description=main.__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--slices", type=int, default=48)
    parser.add_argument("--size-px", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    cases = write_phantom_training_folder(args.out, count=args.count, slices=args.slices, size_px=args.size_px,
                                          seed=args.seed)
    print(f"{len(cases)} phantom volumes in {args.out}")


if __name__ == "__main__":
    main()


@dataclass(frozen=True)
class TrainingSlices:
    """The lung slices of a training folder's volumes, as the slice model sees them.

    Attributes
    ----------
    images : uint8 ``(n, size, size)``: lung window, body crop, resize (the worker's slice pipeline).
    is_positive : bool ``(n,)``: the study's label on every one of its slices (a weak label: a
        COVID-19 study's slices without lesions are labelled positive too).
    patients : ``(n,)`` patient key of each slice, for patient-level splits.
    case_ids : ``(n,)`` the case each slice came from.
    """

    images: np.ndarray
    is_positive: np.ndarray
    patients: np.ndarray
    case_ids: np.ndarray


def read_training_slices(root: str | Path, *, size_px: int, labels_csv: str | Path | None = None) -> TrainingSlices:
    """Return the lung slices of every volume of a training folder, for the 2D training CLI."""
    from tqdm import tqdm

    from inference.preprocess import plan_study, render_model_slices

    images, positive, patients, case_ids = [], [], [], []
    for case in tqdm(read_training_folder(root, labels_csv=labels_csv), desc="volumes to slices", unit="volume"):
        hu = read_case_volume(case.path).hu
        plan = plan_study(hu)
        images.append(render_model_slices(hu, plan, indices=plan.slice_indices, size_px=size_px))
        count = plan.slice_indices.size
        positive += [case.is_positive] * count
        patients += [case.patient] * count
        case_ids += [case.case_id] * count
    return TrainingSlices(np.concatenate(images), np.array(positive, dtype=bool), np.array(patients), np.array(case_ids))
