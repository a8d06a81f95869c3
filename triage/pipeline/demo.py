"""Demo studies: synthetic phantoms per demo hospital, plus a real CT series when shared data is present.

Everything goes through :func:`triage.pipeline.services.receive_upload` (``source="demo"``),
exactly like a real upload. Re-running is harmless: phantom studies have deterministic
StudyInstanceUIDs and are skipped once present; real files are reported as duplicates.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from django.conf import settings
from pydicom.uid import generate_uid

from triage.accounts.demo import DEMO_HOSPITALS
from triage.accounts.models import Hospital
from triage.studies.models import Study
from triage.pipeline.services import receive_upload
from triage.studies.services import UploadReport
from triage.studies.uploads import IncomingFile

DEMO_PHANTOMS = (("severe", 0), ("moderate", 1), ("mild", 2), ("none", 3))
DEMO_PHANTOM_SLICES = 48
DEMO_PHANTOM_SIZE_PX = 256
REAL_SERIES = Path("dicom-series-lung-pet-ct-dx") / "Lung_Dx-A0002"


def shared_data_dir() -> Path:
    """Return ``TRIAGE_SHARED_DATA`` (setting or environment), by default ``<repo>/../shared/data``."""
    configured = getattr(settings, "TRIAGE_SHARED_DATA", None) or os.environ.get("TRIAGE_SHARED_DATA")
    return Path(configured) if configured else settings.BASE_DIR.parent / "shared" / "data"


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
                      shared_data: Path | None = None) -> list[tuple[Hospital, UploadReport]]:
    """Upload the demo studies to every demo hospital that exists; return each upload's report."""
    shared_data = shared_data or shared_data_dir()
    real = sorted((shared_data / REAL_SERIES).rglob("*.dcm")) if (shared_data / REAL_SERIES).is_dir() else []
    reports = []
    for _, code in DEMO_HOSPITALS:
        hospital = Hospital.objects.filter(code=code).first()
        if hospital is None:
            continue
        reports += [(hospital, r) for r in _phantom_reports(hospital=hospital, slices=slices, size_px=size_px)]
        if real:
            reports.append((hospital, _upload_paths(hospital=hospital, paths=real)))
    return reports
