"""The image store fails during an upload: a full disk (a real 1 MiB tmpfs) or an I/O error.

The upload must answer with a clear error (507 disk full, 503 other storage errors) and leave
nothing behind: no Study/Series/Instance rows, and no file, not even a partly written one.
"""
import errno
import os
import subprocess
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from triage.accounts.models import Role
from triage.core import object_store
from triage.pipeline import services as pipeline_services
from triage.studies import exceptions, storage
from triage.studies.models import Instance, Series, Study

pytestmark = pytest.mark.django_db


@pytest.fixture
def uploader(hospital_a, make_user, api_client_for):
    return api_client_for(make_user(hospital=hospital_a, role=Role.CLINICIAN))


@pytest.fixture
def tiny_disk(study_storage):
    """Mount a 1 MiB tmpfs on the storage folder (root only; skipped elsewhere)."""
    study_storage.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(study_storage)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield study_storage
    subprocess.run(["umount", "-l", str(study_storage)], check=True)


def post(client, hospital, paths):
    files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in paths]
    return client.post("/api/studies/", {"hospital": str(hospital.uuid), "files": files}, format="multipart")


def files_under(root) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if p.is_file())


def assert_nothing_kept(root) -> None:
    assert not Study.objects.exists() and not Series.objects.exists() and not Instance.objects.exists()
    assert files_under(root) == []


def test_receive_instances__disk_full_answers_507_and_keeps_nothing(tiny_disk, uploader, hospital_a, phantom_series):
    paths = phantom_series(slices=16, size_px=256)  # ~130 KiB a slice: the 1 MiB disk fills mid-file
    with mock.patch.object(pipeline_services, "enqueue_ingest", return_value=True) as enqueue:
        response = post(uploader, hospital_a, paths)
    assert response.status_code == 507, response.content
    assert response.json()["message"] == exceptions.STORAGE_FULL_MSG
    assert_nothing_kept(tiny_disk)
    enqueue.assert_not_called()


def test_receive_instances__disk_full_then_freed_stores_complete_files(tiny_disk, uploader, hospital_a,
                                                                        phantom_series):
    paths = phantom_series(slices=16, size_px=256)
    assert post(uploader, hospital_a, paths).status_code == 507
    subprocess.run(["mount", "-o", "remount,size=16m", str(tiny_disk)], check=True)
    with mock.patch.object(pipeline_services, "enqueue_ingest", return_value=True):
        response = post(uploader, hospital_a, paths)
    assert response.status_code == 201, response.content
    for instance in Instance.objects.all():  # no half-written file from the first try was reused
        assert object_store.sha256_of(object_store.read_content(instance.storage_path)) == instance.sha256


@pytest.mark.parametrize("error, status, message", [
    (errno.ENOSPC, 507, "STORAGE_FULL_MSG"),
    (errno.EDQUOT, 507, "STORAGE_FULL_MSG"),
    (errno.EIO, 503, "STORAGE_UNAVAILABLE_MSG"),
])
def test_receive_instances__storage_error_mid_upload_undoes_earlier_files(study_storage, uploader, hospital_a,
                                                                         phantom_series, error, status, message):
    real_store, calls = storage.store_content, []

    def failing_on_fifth(**kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise OSError(error, os.strerror(error))
        return real_store(**kwargs)

    with mock.patch.object(storage, "store_content", side_effect=failing_on_fifth):
        response = post(uploader, hospital_a, phantom_series(slices=12, size_px=64))
    assert response.status_code == status, response.content
    assert response.json()["message"] == getattr(exceptions, message)
    assert_nothing_kept(study_storage)


def test_store_content__existing_file_of_wrong_size_is_rewritten(study_storage, hospital_a):
    data = b"DICM" * 100
    digest = storage.sha256_of(data)
    path = storage.content_path(hospital_uuid=hospital_a.uuid, sha256=digest)
    (study_storage / path).parent.mkdir(parents=True)
    (study_storage / path).write_bytes(data[:37])  # left by a process killed mid-write
    assert storage.store_content(hospital_uuid=hospital_a.uuid, data=data, sha256=digest) == (path, True)
    assert (study_storage / path).read_bytes() == data
