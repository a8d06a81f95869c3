"""The object store on both backends: local disk (embedded default) and the suite's real S3 store."""
import io
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from triage.core import object_store
from triage.studies import storage

pytestmark = pytest.mark.django_db


def stored_keys(backend: str) -> set[str]:
    """List every key in the test's store, read behind the store's back (boto3 or the folder)."""
    store = object_store.get_store()
    if backend == "s3":
        listing = store.client.list_objects_v2(Bucket=store.bucket)
        return {o["Key"] for o in listing.get("Contents", [])}
    root = default_storage.path("")
    return {str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file()}


def test_get_store__is_local_disk_without_a_bucket(settings, study_storage):
    settings.TRIAGE_S3 = settings.TRIAGE_S3 | {"bucket": ""}
    assert isinstance(object_store.get_store(), object_store.FilesystemStore)
    assert object_store.storage_health() == (True, "filesystem")


def test_open_content__streams_a_file_larger_than_one_upload_part(any_study_store, hospital_a):
    data = bytes(range(256)) * (object_store.S3_PART_BYTES // 256 + 4096)  # > one multipart part
    digest = object_store.sha256_of(data)
    path, _ = storage.store_content(hospital_uuid=hospital_a.uuid, data=data, sha256=digest)
    chunks = []
    with object_store.open_content(path) as handle:
        while chunk := handle.read(1024 * 1024):
            chunks.append(chunk)
    assert len(chunks) > 8 and object_store.sha256_of(b"".join(chunks)) == digest


def test_read_content__missing_file_is_file_not_found(any_study_store):
    with pytest.raises(FileNotFoundError):
        object_store.read_content("nowhere/" + "ab" * 32)


def test_delete_content__removes_files_and_ignores_missing_ones(any_study_store):
    assert object_store.put_bytes("x/present.bin", b"delete me") is True
    object_store.delete_content(["x/present.bin", "x/absent.bin"])
    assert stored_keys(any_study_store) == set()


def test_put_bytes__a_second_put_of_the_key_writes_nothing(any_study_store):
    assert object_store.put_bytes("x/once.bin", b"once") is True
    assert object_store.put_bytes("x/once.bin", b"once") is False
    assert object_store.read_content("x/once.bin") == b"once"


def test_storage_health__names_the_backend(any_study_store):
    assert object_store.storage_health() == (True, any_study_store)


def test_filesystem_store__put_streams_from_a_file_object(study_storage):
    source = io.BytesIO(b"x" * (3 * 1024 * 1024 + 5))
    assert object_store.FilesystemStore().put("a/b.dcm", source, size=3 * 1024 * 1024 + 5) is True
    assert (study_storage / "a" / "b.dcm").stat().st_size == 3 * 1024 * 1024 + 5
