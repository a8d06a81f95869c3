"""Quantify a DICOM CT series: ``python -m inference.quantify <dicom dir>``; the last output line is the JSON report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Sequence


from inference.dicom_io import read_series
from inference.quantify.lesions import MIN_LESION_ML
from inference.quantify.report import quantify_volume

DICOM_SUFFIXES = {".dcm", ".dicom", ""}


def series_files(directory: Path) -> list[Path]:
    """Return the DICOM files of a directory (suffix .dcm, .dicom or none), sorted by name."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in DICOM_SUFFIXES)


def main(argv: Sequence[str] | None = None) -> None:
    """Read one DICOM series and print its quantification report as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m inference.quantify", description=main.__doc__)
    parser.add_argument("dicom_dir", type=Path, help="directory holding one CT series")
    parser.add_argument("--min-lesion-ml", type=float, default=MIN_LESION_ML)
    args = parser.parse_args(argv)
    files = series_files(args.dicom_dir)
    if not files:
        parser.error(f"no DICOM files in {args.dicom_dir}")
    volume = read_series(files)
    result = quantify_volume(
        volume.hu,
        spacing_mm=volume.spacing_mm,
        orientation=volume.orientation,
        superior_first=volume.superior_first,
        min_lesion_ml=args.min_lesion_ml,
    )
    print(json.dumps(result.to_dict()))


if __name__ == "__main__":
    main()
