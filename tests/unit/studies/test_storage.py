"""Study storage on both backends: local disk (embedded default) and the suite's real S3 store."""
import io

import pytest
from django.core.files.storage import default_storage

from tests.unit.studies.helpers import read_paths, receive
from triage.studies import storage
from triage.studies.services import ingest
from triage.studies.models import Instance, Study

pytestmark = pytest.mark.django_db


def stored_keys(backend: str) -> set[str]:
    store = storage.study_store()
    if backend == "s3":
        listing = store.client.list_objects_v2(Bucket=store.bucket)
        return {o["Key"] for o in listing.get("Contents", [])}
    root = default_storage.path("")
    from pathlib import Path

    return {str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file()}


def test_study_store__is_local_disk_without_a_bucket(settings, study_storage):
    settings.TRIAGE_S3 = settings.TRIAGE_S3 | {"bucket": ""}
    assert isinstance(storage.study_store(), storage.FilesystemStore)
    assert storage.storage_health() == (True, "filesystem")


def test_store_content__stores_once_under_the_content_address(any_study_store, hospital_a):
    data = b"DICM" * 1000
    digest = storage.sha256_of(data)
    path, wrote = storage.store_content(hospital_uuid=hospital_a.uuid, data=data, sha256=digest)
    assert path == f"{hospital_a.uuid}/{digest[:2]}/{digest}.dcm" and wrote is True
    assert storage.store_content(hospital_uuid=hospital_a.uuid, data=data, sha256=digest) == (path, False)
    assert storage.read_content(path) == data
    assert stored_keys(any_study_store) == {path}


def test_open_content__streams_a_file_larger_than_one_upload_part(any_study_store, hospital_a):
    data = bytes(range(256)) * (storage.S3_PART_BYTES // 256 + 4096)  # > one multipart part
    digest = storage.sha256_of(data)
    path, _ = storage.store_content(hospital_uuid=hospital_a.uuid, data=data, sha256=digest)
    chunks = []
    with storage.open_content(path) as handle:
        while chunk := handle.read(1024 * 1024):
            chunks.append(chunk)
    assert len(chunks) > 8 and storage.sha256_of(b"".join(chunks)) == digest


def test_read_content__missing_file_is_file_not_found(any_study_store, hospital_a):
    with pytest.raises(FileNotFoundError):
        storage.read_content(storage.content_path(hospital_uuid=hospital_a.uuid, sha256="ab" * 32))


def test_delete_content__removes_files_and_ignores_missing_ones(any_study_store, hospital_a):
    data = b"DICM-delete"
    path, _ = storage.store_content(hospital_uuid=hospital_a.uuid, data=data, sha256=storage.sha256_of(data))
    storage.delete_content([path, storage.content_path(hospital_uuid=hospital_a.uuid, sha256="cd" * 32)])
    assert stored_keys(any_study_store) == set()


def test_storage_health__names_the_backend(any_study_store):
    assert storage.storage_health() == (True, any_study_store)


def test_receive_and_ingest__a_phantom_study_round_trips_through_the_store(any_study_store, hospital_a,
                                                                          radiologist, phantom_series):
    files = read_paths(phantom_series(slices=12))
    receive(hospital=hospital_a, user=radiologist, files=files)
    study = ingest.ingest_study(study_id=Study.objects.get().id).study
    assert study.status == Study.Status.QUEUED
    instances = Instance.objects.all()
    assert {i.storage_path for i in instances} == stored_keys(any_study_store)
    assert all(i.decode_error == "" for i in instances)
    by_hash = {storage.sha256_of(d): d for d in files.values()}
    for instance in instances:
        assert storage.read_content(instance.storage_path) == by_hash[instance.sha256]


def test_filesystem_store__put_streams_from_a_file_object(study_storage, hospital_a):
    source = io.BytesIO(b"x" * (3 * 1024 * 1024 + 5))
    assert storage.FilesystemStore().put("a/b.dcm", source, size=3 * 1024 * 1024 + 5) is True
    assert (study_storage / "a" / "b.dcm").stat().st_size == 3 * 1024 * 1024 + 5
