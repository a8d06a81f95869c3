"""Run the worker's analysis on in-domain and out-of-domain series: ``python -m inference.domain_report``.

Prints, per series, whether the active model (or ``--model``) calls it applicable, the reasons
when not, its relative feature distance and the study COVID-19 probability, as JSON: the figures
of a model card's ``domain_check_results``. Series (from ``--data``, ``../shared/data`` by default;
those absent are skipped with a note):

- real chest CT: the COVID-CT-MD volumes and TCIA Lung-PET-CT-Dx Lung_Dx-A0002 (applicable);
- a head CT (pydicom's 693 slice stacked 40 times at 5 mm, so only the missing lungs can fail it);
- an abdominal CT (TotalSegmentator's example series);
- two synthetic phantoms of :mod:`inference.phantom` (lesion-free and moderate).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from inference.analysis import analyse_volume
from inference.dicom_io import Volume, read_series
from inference.phantom import write_phantom_series

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_CHEST = {"covid-ct-md/" + name: "dicom-covid-ct-md/" + name for name in ("covid-P002", "cap-cap002", "normal-normal002")}
REAL_CHEST["lung-pet-ct-dx/Lung_Dx-A0002"] = "dicom-series-lung-pet-ct-dx/Lung_Dx-A0002"
HEAD_SLICE = "dicom-format-tests/pydicom_data_1.0.0/693_UNCI.dcm"
ABDOMEN = "dicom-format-tests/totalsegmentator_example_ct_dicom"
HEAD_COPIES, HEAD_STEP_MM = 40, 5.0


def stacked_head(volume: Volume) -> Volume:
    """Return one head slice repeated ``HEAD_COPIES`` times ``HEAD_STEP_MM`` apart: extent and slice count pass."""
    return replace(volume, hu=np.repeat(volume.hu, HEAD_COPIES, axis=0), spacing_mm=(HEAD_STEP_MM, *volume.spacing_mm[1:]),
                   slice_positions_mm=np.arange(HEAD_COPIES) * HEAD_STEP_MM)


def series(data: Path, workdir: Path) -> Iterator[tuple[str, Volume | str]]:
    """Yield (name, volume), or (name, why skipped) for a series whose files are absent."""
    for name, folder in REAL_CHEST.items():
        files = sorted((data / folder).rglob("*.dcm"))
        yield name, read_series(files) if files else f"absent: {data / folder}"
    head = data / HEAD_SLICE
    yield f"head-693 x{HEAD_COPIES}", stacked_head(read_series([head])) if head.exists() else f"absent: {head}"
    abdomen = sorted((data / ABDOMEN).glob("CT.*"))
    yield "abdomen-totalseg", read_series(abdomen) if abdomen else f"absent: {data / ABDOMEN}"
    for severity in ("none", "moderate"):
        folder = workdir / f"phantom-{severity}"
        write_phantom_series(folder, slices=64, size_px=256, severity=severity, seed=0)
        yield f"phantom-{severity}", read_series(sorted(folder.glob("*.dcm")))


def describe(analysis: Any) -> dict[str, Any]:
    """Return applicability, reasons, relative feature distance and study P(COVID-19) of one analysis."""
    applicability = analysis.applicability
    distance = applicability.measurements.get("relative_feature_distance") if applicability else None
    return {"applicable": bool(applicability is None or applicability.applicable),
            "reasons": list(applicability.reasons) if applicability else [],
            "relative_feature_distance": None if distance is None else round(float(distance), 2),
            "covid_probability": round(float(analysis.covid_probability), 3)}


def main(argv: Sequence[str] | None = None) -> None:
    """Print the domain check of every series as one JSON object."""
    from inference.registry import load_model

    parser = argparse.ArgumentParser(prog="python -m inference.domain_report", description=main.__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--model", default=None, help="<name>/<version> (default: the active model)")
    args = parser.parse_args(argv)
    loaded = load_model(args.model)
    report: dict[str, Any] = {"model": f"{loaded.card['name']}/{loaded.card['version']}"}
    with tempfile.TemporaryDirectory() as workdir:
        for name, volume in series(args.data, Path(workdir)):
            report[name] = volume if isinstance(volume, str) else describe(analyse_volume(volume, loaded=loaded))
            print(name, json.dumps(report[name]), flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
