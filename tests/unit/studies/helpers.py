import io
from pathlib import Path

from triage.studies.services.receiving import receive_instances
from triage.studies.uploads import IncomingFile


def incoming(files: dict[str, bytes]) -> list[IncomingFile]:
    return [IncomingFile(name=name, stream=io.BytesIO(data)) for name, data in files.items()]


def read_paths(paths: list[Path]) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in paths}


def receive(*, hospital, user, files: dict[str, bytes], source: str = "api"):
    return receive_instances(hospital=hospital, uploaded_by=user, files=incoming(files), source=source)
