import io
from pathlib import Path

from triage.audit.models import AuditEvent
from triage.studies.models import Study
from triage.studies.services.ingest import ingest_study
from triage.studies.services.receiving import receive_instances
from triage.studies.uploads import IncomingFile


def incoming(files: dict[str, bytes]) -> list[IncomingFile]:
    return [IncomingFile(name=name, stream=io.BytesIO(data)) for name, data in files.items()]


def read_paths(paths: list[Path]) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in paths}


def receive(*, hospital, user, files: dict[str, bytes], source: str = "api", now=None):
    return receive_instances(hospital=hospital, uploaded_by=user, files=incoming(files), source=source, now=now)


def actions_for(study) -> list[str]:
    return list(AuditEvent.objects.filter(object_id=str(study.uuid)).order_by("id").values_list("action", flat=True))


def make_queued_study(hospital, user, phantom_series) -> Study:
    receive(hospital=hospital, user=user, files=read_paths(phantom_series()))
    study = Study.objects.get()
    return ingest_study(study_id=study.id).study
