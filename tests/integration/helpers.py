"""Helpers of the worker integration tests: polling, uploading, and holding a worker mid-task."""
import os
import socket
import time
from contextlib import contextmanager

from django.core.files.storage import default_storage

from triage.studies.models import Instance, Study


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, *, timeout_s: float = 60.0, interval_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s")


def upload_phantom(client, hospital, paths, *, note: str = ""):
    from django.core.files.uploadedfile import SimpleUploadedFile
    files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in paths]
    response = client.post("/api/studies/", {"hospital": str(hospital.uuid), "files": files}, format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json()["note"] == note
    return Study.objects.get(uuid=response.json()["studies"][0])


@contextmanager
def reads_block(instance: Instance):
    """Replace the instance's stored file by a FIFO while inside: a worker reading it blocks there.

    This holds a worker mid-task deterministically, with no test hook in production code; the
    original bytes are written back on exit.
    """
    with stored_file_blocks(instance.storage_path):
        yield


@contextmanager
def stored_file_blocks(storage_path: str):
    """Replace a stored file (a DICOM instance, an analysis blob) by a FIFO while inside; restore it on exit."""
    path = default_storage.path(storage_path)
    original = open(path, "rb").read()
    os.remove(path)
    os.mkfifo(path)
    try:
        yield
    finally:
        os.remove(path)
        with open(path, "wb") as handle:
            handle.write(original)
