"""Class-folder slice datasets: listing, loading, patient grouping and patient-level splits.

A dataset directory has one subfolder per class (``covid/``, ``non-covid/`` ...) of
PNG/JPG slice images or single-slice DICOM files. UCSD COVID-CT's ``meta/`` folder maps image names to patient ids;
without it images are grouped by the source-paper prefix of their file name.
"""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ElementTree
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.dicom_io import read_series, read_slice_image
from inference.preprocess import image_to_model_uint8, preprocess_study

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DICOM_SUFFIXES = (".dcm",)
POSITIVE_CLASS = "covid"
SPLIT_NAMES = ("train", "val", "test")
_XLSX_NAMESPACE = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_PAPER_PREFIX = re.compile(r"(-p\d+|%).*$")


@dataclass(frozen=True)
class SliceDataset:
    """Image files of a class-folder dataset.

    Attributes
    ----------
    root : dataset directory.
    class_names : sorted class folder names; a label is an index into it.
    relative_paths : image paths relative to ``root`` (``class/file``).
    labels : (n,) int class index of each image.
    """

    root: Path
    class_names: tuple[str, ...]
    relative_paths: tuple[str, ...]
    labels: np.ndarray

    @property
    def positive_index(self) -> int:
        """Return the index of the COVID-19 class (the positive class of binary metrics)."""
        lowered = [name.lower() for name in self.class_names]
        if POSITIVE_CLASS not in lowered:
            raise ValueError(f"no {POSITIVE_CLASS!r} class among {self.class_names}")
        return lowered.index(POSITIVE_CLASS)

    def subset(self, relative_paths: Sequence[str]) -> SliceDataset:
        """Return the dataset restricted to ``relative_paths`` (which must belong to it)."""
        index = {path: i for i, path in enumerate(self.relative_paths)}
        missing = [path for path in relative_paths if path not in index]
        if missing:
            raise ValueError(f"{len(missing)} split paths are not in {self.root}, e.g. {missing[0]}")
        rows = [index[path] for path in relative_paths]
        return SliceDataset(self.root, self.class_names, tuple(relative_paths), self.labels[rows])


def list_slice_dataset(root: str | Path) -> SliceDataset:
    """List the images of every class subfolder of ``root`` (sorted, so listings are reproducible)."""
    root_path = Path(root)
    class_dirs = sorted(p for p in root_path.iterdir() if p.is_dir() and any(_is_image(f) for f in p.iterdir()))
    if len(class_dirs) < 2:
        raise ValueError(f"{root_path} needs at least two class subfolders with images")
    paths, labels = [], []
    for label, class_dir in enumerate(class_dirs):
        for file in sorted(f for f in class_dir.iterdir() if _is_image(f)):
            paths.append(f"{class_dir.name}/{file.name}")
            labels.append(label)
    return SliceDataset(root_path, tuple(d.name for d in class_dirs), tuple(paths), np.asarray(labels, dtype=np.int64))


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES + DICOM_SUFFIXES


def load_slice_for_model(path: str | Path, *, size_px: int) -> np.ndarray:
    """Load one slice as a (size_px, size_px) uint8 model input.

    PNG/JPG images are taken as already windowed (padded to square, resized); a DICOM
    file goes through HU, lung window and body crop (:func:`inference.preprocess.preprocess_study`).
    """
    if Path(path).suffix.lower() in DICOM_SUFFIXES:
        return preprocess_study(read_series([path]).hu, size_px=size_px).slices_uint8[0]
    return image_to_model_uint8(read_slice_image(path), size_px=size_px)


def load_model_inputs(dataset: SliceDataset, *, size_px: int) -> np.ndarray:
    """Load every slice of ``dataset`` as a model input: (n, size_px, size_px) uint8."""
    return np.stack([load_slice_for_model(dataset.root / p, size_px=size_px) for p in dataset.relative_paths])


def read_xlsx_rows(path: str | Path) -> list[dict[str, str]]:
    """Read the first worksheet of an .xlsx file into dicts keyed by the header row (stdlib only)."""
    with zipfile.ZipFile(path) as archive:
        shared = [
            "".join(t.text or "" for t in item.iter(f"{{{_XLSX_NAMESPACE['m']}}}t"))
            for item in ElementTree.fromstring(archive.read("xl/sharedStrings.xml")).findall("m:si", _XLSX_NAMESPACE)
        ]
        sheet = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))
    table = []
    for row in sheet.iter(f"{{{_XLSX_NAMESPACE['m']}}}row"):
        cells = {}
        for cell in row.findall("m:c", _XLSX_NAMESPACE):
            value = cell.find("m:v", _XLSX_NAMESPACE)
            if value is not None and value.text is not None:
                column = re.match(r"[A-Z]+", cell.get("r", "")).group()  # type: ignore[union-attr]
                cells[column] = shared[int(value.text)] if cell.get("t") == "s" else value.text
        table.append(cells)
    header = table[0] if table else {}
    return [{header[col]: text for col, text in row.items() if col in header} for row in table[1:]]


def ucsd_patient_ids(root: str | Path) -> dict[str, str]:
    """Map ``class/file`` to a patient id from UCSD COVID-CT's ``meta/`` files (empty if absent)."""
    meta = Path(root) / "meta"
    patients: dict[str, str] = {}
    covid_sheet, non_covid_table = meta / "COVID-CT-MetaInfo.xlsx", meta / "NonCOVID-CT-MetaInfo.csv"
    if covid_sheet.exists():
        for row in read_xlsx_rows(covid_sheet):
            if row.get("File name") and row.get("Patient ID"):
                patients[f"covid/{row['File name']}"] = f"covid:{row['Patient ID'].strip()}"
    if non_covid_table.exists():
        with non_covid_table.open(newline="") as handle:
            for row in csv.DictReader(handle):
                patients[f"non-covid/{row['image name']}"] = f"non-covid:{row['patient id'].strip()}"
    return patients


def paper_prefix_group(relative_path: str) -> str:
    """Return the fallback group of an image: class plus the file name before ``-p<page>`` or ``%``."""
    class_name, file_name = relative_path.split("/", 1)
    return f"{class_name}:{_PAPER_PREFIX.sub('', Path(file_name).stem)}"


def patient_groups(dataset: SliceDataset) -> tuple[list[str], str]:
    """Return one group id per image and how groups were found (meta patient ids, else paper prefix)."""
    patients = ucsd_patient_ids(dataset.root)
    groups = [patients.get(path) or paper_prefix_group(path) for path in dataset.relative_paths]
    matched = sum(path in patients for path in dataset.relative_paths)
    source = f"patient ids from meta/ for {matched}/{len(groups)} images; others grouped by source-paper file prefix"
    return groups, source


def patient_level_split(
    groups: Sequence[str], labels: np.ndarray, *, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), seed: int = 0
) -> dict[str, np.ndarray]:
    """Split image indices into train/val/test so that no group (patient) spans two splits.

    Groups of each class are shuffled with ``seed`` and filled into val, then test, until each
    holds its fraction of that class's images; the rest go to train. A group's class is
    the majority label of its images.
    """
    if not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must sum to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    group_names, group_of_image = np.unique(np.asarray(groups), return_inverse=True)
    group_sizes = np.bincount(group_of_image)
    group_label = np.array([np.bincount(labels[group_of_image == g]).argmax() for g in range(group_names.size)])
    assigned = np.zeros(group_names.size, dtype=np.int64)  # 0 train, 1 val, 2 test
    for label in np.unique(group_label):
        members = rng.permutation(np.flatnonzero(group_label == label))
        class_total = group_sizes[members].sum()
        filled = np.cumsum(group_sizes[members])
        val_end = np.searchsorted(filled, fractions[1] * class_total) + 1
        test_end = np.searchsorted(filled, (fractions[1] + fractions[2]) * class_total) + 1
        assigned[members[:val_end]] = 1
        assigned[members[val_end:test_end]] = 2
    split_of_image = assigned[group_of_image]
    return {name: np.flatnonzero(split_of_image == code) for code, name in enumerate(SPLIT_NAMES)}


def write_split_file(path: str | Path, *, dataset: SliceDataset, split_indices: dict[str, np.ndarray], grouping: str) -> None:
    """Write the split as JSON: relative image paths per split plus how patients were grouped."""
    payload = {
        "data_root": str(dataset.root),
        "class_names": list(dataset.class_names),
        "grouping": grouping,
        **{name: [dataset.relative_paths[i] for i in indices] for name, indices in split_indices.items()},
    }
    Path(path).write_text(json.dumps(payload, indent=1) + "\n")


def read_split_paths(path: str | Path, *, split: str = "test") -> list[str]:
    """Return the relative image paths of one split from a split file written by :func:`write_split_file`."""
    payload = json.loads(Path(path).read_text())
    if split not in payload:
        raise ValueError(f"split file {path} has no {split!r} list")
    return list(payload[split])
