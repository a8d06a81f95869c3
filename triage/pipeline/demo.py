"""Demo studies: synthetic phantoms per demo hospital, plus one real chest CT series shipped in the repo.

The real series is TCIA Lung-PET-CT-Dx ``Lung_Dx-A0002`` (CC BY 4.0; licence and citation in
``demo_data/``), so a fresh clone shows the AI on real scanner CT; the phantoms are outside the
model's domain and show "AI not applicable".

Everything goes through :func:`triage.pipeline.services.receive_upload` (``source="demo"``),
exactly like a real upload. Re-running is harmless: phantom studies have deterministic
StudyInstanceUIDs and are skipped once present; real files are reported as duplicates.
"""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from pydicom.uid import generate_uid

from triage.accounts.demo import DEMO_HOSPITALS
from triage.accounts.models import Hospital
from triage.studies.models import Study
from triage.pipeline.services import receive_upload
from triage.studies.services.receiving import UploadReport
from triage.studies.uploads import IncomingFile

DEMO_PHANTOMS = (("severe", 0), ("moderate", 1), ("mild", 2), ("none", 3))
DEMO_PHANTOM_SLICES = 48
DEMO_PHANTOM_SIZE_PX = 256
REAL_SERIES_DIR = Path(__file__).resolve().parent / "demo_data" / "Lung_Dx-A0002"


def demo_study_uid(*, hospital: Hospital, index: int) -> str:
    """Return a StudyInstanceUID that is the same on every run for this hospital and index."""
    return generate_uid(entropy_srcs=["ct-triage-demo", hospital.code, str(index)])


def _upload_paths(*, hospital: Hospital, paths: list[Path]) -> UploadReport:
    with ExitStack() as stack:
        files = [IncomingFile(name=p.name, stream=stack.enter_context(open(p, "rb"))) for p in paths]
        return receive_upload(hospital=hospital, uploaded_by=None, files=files, source=Study.Source.DEMO)


def _phantom_reports(*, hospital: Hospital, slices: int, size_px: int) -> Iterator[UploadReport]:
    from inference.phantom import write_phantom_series

    for index, (severity, seed) in enumerate(DEMO_PHANTOMS):
        uid = demo_study_uid(hospital=hospital, index=index)
        if Study.objects.filter(hospital=hospital, study_instance_uid=uid).exists():
            continue
        with tempfile.TemporaryDirectory(prefix="ct-triage-demo-") as out:
            write_phantom_series(Path(out), slices=slices, size_px=size_px, severity=severity,
                                 seed=seed + 10 * index, study_instance_uid=uid,
                                 patient_id=f"DEMO-{hospital.code.upper()}-{index + 1:03d}",
                                 accession_number=f"D{hospital.code.upper()}{index + 1:05d}")
            yield _upload_paths(hospital=hospital, paths=sorted(Path(out).glob("*.dcm")))


def seed_demo_studies(*, slices: int = DEMO_PHANTOM_SLICES, size_px: int = DEMO_PHANTOM_SIZE_PX,
                      real_series: Path | None = REAL_SERIES_DIR) -> list[tuple[Hospital, UploadReport]]:
    """Upload the demo studies to every demo hospital that exists; return each upload's report."""
    real = sorted(real_series.glob("*.dcm")) if real_series is not None else []
    reports = []
    for _, code in DEMO_HOSPITALS:
        hospital = Hospital.objects.filter(code=code).first()
        if hospital is None:
            continue
        reports += [(hospital, r) for r in _phantom_reports(hospital=hospital, slices=slices, size_px=size_px)]
        if real:
            reports.append((hospital, _upload_paths(hospital=hospital, paths=real)))
    return reports
