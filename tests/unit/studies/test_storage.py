"""Study files in the object store, on both backends: local disk (embedded default) and the suite's real S3 store."""
import pytest

from tests.unit.core.test_object_store import stored_keys
from tests.unit.studies.helpers import read_paths, receive
from triage.core.object_store import read_content, sha256_of
from triage.studies import storage
from triage.studies.models import Instance, Study
from triage.studies.services import ingest

pytestmark = pytest.mark.django_db


def test_store_content__stores_once_under_the_content_address(any_study_store, hospital_a):
    data = b"DICM" * 1000
    digest = sha256_of(data)
    path, wrote = storage.store_content(hospital_uuid=hospital_a.uuid, data=data, sha256=digest)
    assert path == f"{hospital_a.uuid}/{digest[:2]}/{digest}.dcm" and wrote is True
    assert storage.store_content(hospital_uuid=hospital_a.uuid, data=data, sha256=digest) == (path, False)
    assert read_content(path) == data
    assert stored_keys(any_study_store) == {path}


def test_receive_and_ingest__a_phantom_study_round_trips_through_the_store(any_study_store, hospital_a,
                                                                          radiologist, phantom_series):
    files = read_paths(phantom_series(slices=12))
    receive(hospital=hospital_a, user=radiologist, files=files)
    study = ingest.ingest_study(study_id=Study.objects.get().id).study
    assert study.status == Study.Status.QUEUED
    instances = Instance.objects.all()
    assert {i.storage_path for i in instances} == stored_keys(any_study_store)
    assert all(i.decode_error == "" for i in instances)
    by_hash = {sha256_of(d): d for d in files.values()}
    for instance in instances:
        assert read_content(instance.storage_path) == by_hash[instance.sha256]
