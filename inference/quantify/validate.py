"""Check lesion quantification against radiologists' labels on real CT: ``python -m inference.quantify.validate``.

Data: the COVID-CT-MD sample volumes (Afshar et al., Sci Data 2021) in ``<root>/<name>/`` with a
``slice-labels.csv`` (InstanceNumber (0020,0013) -> infection 0/1 and per-lobe labels LLL LUL RLL
RML RUL). Figures per volume and pooled:

- lesion share of both lungs (fraction) and severity total (a normal lung should be near 0);
- per-slice lesion fraction (lesion voxels / lung voxels of the slice) against the slice's
  infection label: ROC AUC with a 95 % bootstrap CI, per volume and pooled over volumes (pooling
  is what exposes a false-positive floor that differs between patients);
- per-zone involvement (zone score >= 1) against the lobe labels: a zone of one lung is truly
  involved when any of its slices carries a label of a lobe of that lung (zones are z-thirds, not
  lobes, so this compares like with like only roughly); agreement and Cohen's kappa.

``--choose`` picks the lesion parameters from a small grid with each volume held out in turn
(chosen on the other volumes, reported on the held-out one), so no threshold is tuned to the
volume it is judged on.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pydicom

from inference.dicom_io import read_series, sort_slices
from inference.metrics import binary_metrics, cohen_kappa
from inference.quantify.lesions import CONSOLIDATION, GGO
from inference.quantify.report import Quantification, quantify_volume
from inference.quantify.scoring import zone_index_per_slice

DEFAULT_ROOT = Path(__file__).resolve().parents[3] / "shared" / "data" / "dicom-covid-ct-md"
VOLUMES = ("covid-P002", "cap-cap002", "normal-normal002")
LOBES_OF = {"left": ("LLL", "LUL"), "right": ("RLL", "RML", "RUL")}
# Small on purpose (every option costs three real volumes); the first option of each is today's default,
# and ties go to it. The dependent-density rule with disease elsewhere (1.0) is the open question of #14.
GRID = {"pleural_band_mm": (3.0, 5.0), "dependent_max_other_lesion": (0.01, 1.0)}
NORMAL_MAX_LESION_FRACTION = 0.01


@dataclass(frozen=True)
class LabelledVolume:
    """A CT volume in HU with its geometry and the labels of each sorted slice."""

    name: str
    hu: np.ndarray
    spacing_mm: tuple[float, float, float]
    orientation: tuple[float, ...]
    superior_first: bool
    infection: np.ndarray  # (z,) 0/1 per sorted slice
    lobes: dict[str, np.ndarray]  # lobe -> (z,) 0/1


def read_labelled_volume(folder: Path) -> LabelledVolume:
    """Read one COVID-CT-MD folder (DICOM slices + slice-labels.csv) into a :class:`LabelledVolume`."""
    datasets, _, _ = sort_slices([pydicom.dcmread(path) for path in sorted(folder.glob("*.dcm"))])
    volume = read_series(datasets)
    with open(folder / "slice-labels.csv", newline="") as handle:
        rows = {int(row["instance_number"]): row for row in csv.DictReader(handle)}
    ordered = [rows[int(ds.InstanceNumber)] for ds in datasets]
    lobes = {lobe: np.array([int(row[lobe]) for row in ordered]) for lobe in itertools.chain(*LOBES_OF.values())}
    return LabelledVolume(folder.name, volume.hu, volume.spacing_mm, volume.orientation, volume.superior_first,
                          np.array([int(row["infection"]) for row in ordered]), lobes)


def slice_lesion_fraction(result: Quantification) -> np.ndarray:
    """Return each slice's lesion voxels over its lung voxels (0 where a slice has no lung)."""
    lung = result.lungs.both.sum(axis=(1, 2))
    lesion = np.isin(result.lesion_labels, (GGO, CONSOLIDATION)).sum(axis=(1, 2))
    return np.where(lung > 0, lesion / np.maximum(lung, 1), 0.0)


def zone_truth_and_prediction(volume: LabelledVolume, result: Quantification) -> tuple[list[int], list[int]]:
    """Return (labelled involved, predicted involved) for each zone of each lung, in ``result.zones`` order."""
    truth, predicted = [], []
    for zone in result.zones:
        lung = getattr(result.lungs, zone.lung)
        index = ("upper", "middle", "lower").index(zone.zone)
        in_zone = zone_index_per_slice(lung, superior_first=volume.superior_first) == index
        labelled = np.zeros_like(volume.infection, dtype=bool)
        for lobe in LOBES_OF[zone.lung]:
            labelled |= volume.lobes[lobe] > 0
        truth.append(int(labelled[in_zone].any()))
        predicted.append(int(zone.score >= 1))
    return truth, predicted


@dataclass(frozen=True)
class VolumeRun:
    """One volume quantified with one parameter set: its summary, slice fractions and zone calls."""

    summary: dict[str, Any]
    slice_fraction: np.ndarray
    zone_truth: list[int]
    zone_predicted: list[int]


def run_volume(volume: LabelledVolume, **lesion_options: Any) -> VolumeRun:
    """Quantify one labelled volume and compare its zones with the lobe labels."""
    result = quantify_volume(volume.hu, spacing_mm=volume.spacing_mm, orientation=volume.orientation,
                             superior_first=volume.superior_first, lesion_options=lesion_options)
    truth, predicted = zone_truth_and_prediction(volume, result)
    summary = {"lesion_fraction_both": round(result.lesion_fraction_both, 4), "severity_total": result.severity_total,
               "severity_max": result.severity_max, "airway_lumen_removed_ml": round(result.airway_lumen_ml, 1),
               "zones_agree": f"{sum(t == p for t, p in zip(truth, predicted))}/{len(truth)}"}
    return VolumeRun(summary, slice_lesion_fraction(result), truth, predicted)


def summarise(volumes: Sequence[LabelledVolume], runs: Sequence[VolumeRun], *, n_boot: int) -> dict[str, Any]:
    """Return per-volume figures (slice AUC with CI), the pooled slice AUC and the zone agreement."""
    per_volume: dict[str, Any] = {}
    labelled = [(v, r) for v, r in zip(volumes, runs) if v.infection.any()]
    for volume, run in zip(volumes, runs):
        entry = dict(run.summary)
        if volume.infection.any():
            entry["slice_auc"] = binary_metrics(volume.infection, run.slice_fraction, n_boot=n_boot)["auc"]
        per_volume[volume.name] = entry
    figures: dict[str, Any] = {"volumes": per_volume}
    if labelled:
        figures["pooled_slice_auc"] = binary_metrics(np.concatenate([v.infection for v, _ in labelled]),
                                                     np.concatenate([r.slice_fraction for _, r in labelled]),
                                                     n_boot=n_boot)["auc"]
    truth = [t for r in runs for t in r.zone_truth]
    predicted = [p for r in runs for p in r.zone_predicted]
    figures["zone_agreement"] = round(float(np.mean(np.equal(truth, predicted))), 3)
    figures["zone_kappa"] = cohen_kappa(truth, predicted)
    return figures


def evaluate(volumes: Sequence[LabelledVolume], *, n_boot: int = 2000, **lesion_options: Any) -> dict[str, Any]:
    """Quantify each volume with ``lesion_options`` and compare with its labels."""
    return summarise(volumes, [run_volume(v, **lesion_options) for v in volumes], n_boot=n_boot)


def objective(figures: dict[str, Any]) -> float:
    """Score a parameter set on training volumes: pooled slice AUC, minus 1 if a normal volume exceeds 1 %."""
    auc = (figures.get("pooled_slice_auc") or {}).get("value") or 0.0
    normal_fp = any(name.startswith("normal") and entry["lesion_fraction_both"] > NORMAL_MAX_LESION_FRACTION
                    for name, entry in figures["volumes"].items())
    return float(auc) - (1.0 if normal_fp else 0.0)


def choose_held_out(volumes: Sequence[LabelledVolume]) -> list[dict[str, Any]]:
    """For each volume: pick GRID parameters on the others (:func:`objective`), report the held-out one."""
    options = [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]
    runs = {(v.name, i): run_volume(v, **o) for v in volumes for i, o in enumerate(options)}
    rounds = []
    for held in volumes:
        train = [v for v in volumes if v is not held]

        def train_score(i: int) -> float:
            return objective(summarise(train, [runs[(v.name, i)] for v in train], n_boot=0))

        best = max(range(len(options)), key=train_score)
        rounds.append({"held_out": held.name, "chosen": options[best],
                       "held_out_figures": summarise([held], [runs[(held.name, best)]], n_boot=0)["volumes"]})
    return rounds


def main(argv: Sequence[str] | None = None) -> None:
    """Print the real-data figures (and with ``--choose`` the held-out parameter choice) as JSON."""
    parser = argparse.ArgumentParser(prog="python -m inference.quantify.validate", description=main.__doc__)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="folder holding the COVID-CT-MD volumes")
    parser.add_argument("--choose", action="store_true", help="also run the held-out parameter choice")
    args = parser.parse_args(argv)
    folders = [args.root / name for name in VOLUMES]
    missing = [str(f) for f in folders if not (f / "slice-labels.csv").exists()]
    if missing:
        parser.error(f"labelled volumes not found: {', '.join(missing)}")
    volumes = [read_labelled_volume(folder) for folder in folders]
    print(json.dumps({"defaults": evaluate(volumes)}, default=str))
    if args.choose:
        print(json.dumps({"held_out": choose_held_out(volumes)}, default=str))


if __name__ == "__main__":
    main()
