"""The S3 store (the suite's real SeaweedFS) goes down mid-upload and mid-analysis, then comes back.

Uploads answer 503 with a clear message and keep no rows; an analysis that meets a dead store
gives its claim back and retries (never ``failed``, never a half-written Result); after the
restart the same upload and the same study go through, each study with exactly one Result.
"""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from tests.conftest import WorkerProcess, _worker_env
from tests.faults.conftest import wait_until
from triage.accounts.models import Role
from triage.core import object_store
from triage.core.exceptions import StorageOffline
from triage.results.models import Result
from triage.studies import exceptions, storage
from triage.studies.models import Instance, Series, Study

pytestmark = [pytest.mark.slow]


@pytest.fixture
def s3_down_after(s3_server, monkeypatch):
    """Kill the S3 server for real once ``calls`` reads or writes have gone through; restart it after."""
    def arm(module, function_name: str, calls: int) -> list[int]:
        real, seen = getattr(module, function_name), []

        def then_outage(*args, **kwargs):
            if len(seen) == calls:
                s3_server.stop()
            seen.append(1)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, function_name, then_outage)
        return seen

    yield arm
    if s3_server.pid is None:
        s3_server.start()


def post(client, hospital, paths):
    files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in paths]
    return client.post("/api/studies/", {"hospital": str(hospital.uuid), "files": files}, format="multipart")


def bucket_keys(s3_server, bucket: str) -> set[str]:
    listing = s3_server.client().list_objects_v2(Bucket=bucket)
    return {o["Key"] for o in listing.get("Contents", [])}


@pytest.mark.django_db
def test_receive_instances__s3_down_mid_upload_is_503_then_the_retry_stores_everything(
        s3_bucket, s3_server, s3_down_after, hospital_a, make_user, api_client_for, phantom_series):
    client = api_client_for(make_user(hospital=hospital_a, role=Role.CLINICIAN))
    paths = phantom_series(slices=10)
    s3_down_after(storage, "store_content", calls=4)
    response = post(client, hospital_a, paths)
    assert response.status_code == 503, response.content
    assert response.json()["message"] == exceptions.STORAGE_UNAVAILABLE_MSG
    assert not Study.objects.exists() and not Series.objects.exists() and not Instance.objects.exists()
    s3_server.start()
    # The four files written before the outage are whole (a PUT is atomic) but unreferenced:
    # the undo could not reach the store. The retried upload reuses them by content address.
    assert len(bucket_keys(s3_server, s3_bucket)) <= 4
    response = post(client, hospital_a, paths)
    assert response.status_code == 201, response.content
    instances = Instance.objects.all()
    assert len(instances) == 10 and bucket_keys(s3_server, s3_bucket) == {i.storage_path for i in instances}
    for instance in instances:
        assert object_store.sha256_of(object_store.read_content(instance.storage_path)) == instance.sha256


def queued_study(hospital, user, phantom_series) -> Study:
    from tests.unit.studies.helpers import read_paths, receive
    from triage.studies.services.ingest import ingest_study

    receive(hospital=hospital, user=user, files=read_paths(phantom_series(slices=12)))
    return ingest_study(study_id=Study.objects.get().id).study  # the ingest step only: nothing enqueued


@pytest.mark.django_db
def test_analyse_study__s3_down_mid_read_releases_the_claim_then_succeeds_after_restart(
        s3_bucket, s3_server, s3_down_after, hospital_a, radiologist, phantom_series):
    from triage.pipeline.services import analyse_study

    from tests.unit.pipeline.helpers import analyse_in_process

    study = queued_study(hospital_a, radiologist, phantom_series)
    s3_down_after(object_store, "read_content", calls=3)  # dies while the volume is being read
    with pytest.raises(StorageOffline):
        analyse_study(study_id=study.id)
    study.refresh_from_db()
    assert study.status == Study.Status.PROCESSING and not Result.objects.exists()
    assert study.lease_until <= timezone.now()  # given back: the retry may take it at once
    s3_server.start()
    result = analyse_in_process(study_id=study.id)
    study.refresh_from_db()
    assert study.status == Study.Status.READY and Result.objects.get() == result


def test_analysis_task__s3_outage_is_retried_by_the_worker_until_the_store_returns(
        transactional_db, s3_bucket, s3_server, hospital_a, radiologist, phantom_series, tmp_path, settings):
    from triage.pipeline.enqueue import enqueue_analysis

    if not connection.settings_dict["ENGINE"].endswith("postgresql"):
        pytest.skip("needs PostgreSQL and Redis: run the suite through tests/run.sh")
    study = queued_study(hospital_a, radiologist, phantom_series)
    s3 = settings.TRIAGE_S3
    env = _worker_env(connection.settings_dict["NAME"]) | {
        "TRIAGE_S3_BUCKET": s3["bucket"], "TRIAGE_S3_ENDPOINT": s3["endpoint_url"],
        "TRIAGE_S3_ACCESS_KEY": s3["access_key"], "TRIAGE_S3_SECRET_KEY": s3["secret_key"]}
    worker = WorkerProcess(env, tmp_path / "worker.log")
    worker.start()
    try:
        s3_server.stop()
        assert enqueue_analysis(study_id=study.id)
        wait_until(lambda: "StorageOffline" in worker.log_path.read_text(), timeout_s=90)
        study.refresh_from_db()
        assert study.status != Study.Status.FAILED and not Result.objects.exists()
        s3_server.start()
        wait_until(lambda: Study.objects.filter(id=study.id, status=Study.Status.READY).exists(), timeout_s=120)
    finally:
        if s3_server.pid is None:
            s3_server.start()
        worker.stop()
    assert Result.objects.filter(study=study).count() == 1
