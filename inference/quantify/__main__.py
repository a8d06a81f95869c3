"""Quantify a DICOM CT series: ``python -m inference.quantify <dicom dir>``; the last output line is the JSON report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from inference.dicom_io import Volume, read_series
from inference.quantify.report import quantify_volume

DICOM_SUFFIXES = {".dcm", ".dicom", ""}


def superior_first(volume: Volume) -> bool:
    """Return True when the volume's slice 0 is its most superior slice (LPS: larger z is superior)."""
    positions = np.asarray(volume.slice_positions_mm, dtype=np.float64)
    if positions.size < 2:
        return True
    ascending = positions[-1] > positions[0]
    return bool((volume.slice_normal[2] > 0) != ascending)


def series_files(directory: Path) -> list[Path]:
    """Return the DICOM files of a directory (suffix .dcm, .dicom or none), sorted by name."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in DICOM_SUFFIXES)


def main(argv: Sequence[str] | None = None) -> None:
    """Read one DICOM series and print its quantification report as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m inference.quantify", description=main.__doc__)
    parser.add_argument("dicom_dir", type=Path, help="directory holding one CT series")
    parser.add_argument("--min-lesion-ml", type=float, default=0.1)
    args = parser.parse_args(argv)
    files = series_files(args.dicom_dir)
    if not files:
        parser.error(f"no DICOM files in {args.dicom_dir}")
    volume = read_series(files)
    result = quantify_volume(
        volume.hu,
        spacing_mm=volume.spacing_mm,
        orientation=volume.orientation,
        superior_first=superior_first(volume),
        min_lesion_ml=args.min_lesion_ml,
    )
    print(json.dumps(result.to_dict()))


if __name__ == "__main__":
    main()
