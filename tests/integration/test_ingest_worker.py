"""Ingest through a real Celery worker on Redis + PostgreSQL, including a SIGKILL mid-ingest."""
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from tests.conftest import WorkerProcess, _worker_env
from tests.integration.helpers import reads_block, upload_phantom, wait_for
from triage.accounts.models import Role
from triage.audit.models import AuditEvent
from triage.pipeline import enqueue, services
from triage.studies.models import Instance, Study

pytestmark = pytest.mark.integration


def queued_events(study) -> int:
    return AuditEvent.objects.filter(action="study.queued", object_id=str(study.uuid)).count()


def test_ingest_study__worker_queues_phantom_and_hands_off_to_gpu(celery_worker_process, hospital_a, make_user,
                                                                  api_client_for, phantom_series):
    client = api_client_for(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))
    study = upload_phantom(client, hospital_a, phantom_series(slices=16, size_px=64))
    wait_for(lambda: queued_events(study) == 1)
    study.refresh_from_db()
    assert study.status != Study.Status.RECEIVED and study.selected_series.slice_count == 16
    # The hand-off reached the gpu queue and a worker consumed it.
    worker = celery_worker_process
    wait_for(lambda: "results.analyse_study" in worker.log_text(since=worker.test_log_start), timeout_s=30)


def test_ingest_study__sigkill_mid_ingest_then_sweep_queues_exactly_once(celery_worker_process, hospital_a,
                                                                        make_user, api_client_for,
                                                                        phantom_series):
    client = api_client_for(make_user(hospital=hospital_a, role=Role.CLINICIAN))
    with mock.patch.object(services, "enqueue_ingest", return_value=True):  # the upload hands nothing over
        study = upload_phantom(client, hospital_a, phantom_series(slices=16, size_px=64))
    # The worker blocks reading one stored slice after it claimed the study: held mid-ingest.
    with reads_block(Instance.objects.filter(series__study=study).order_by("instance_number")[5]):
        assert enqueue.enqueue_ingest(study_id=study.id)
        wait_for(lambda: Study.objects.filter(id=study.id, lease_until__isnull=False).exists())
        time.sleep(0.3)
        celery_worker_process.kill()
    study.refresh_from_db()
    assert study.status == Study.Status.RECEIVED and queued_events(study) == 0

    celery_worker_process.start()
    # The dead worker's lease runs out; the periodic sweep then re-enqueues the study.
    past = timezone.now() - timedelta(seconds=1)
    Study.objects.filter(id=study.id).update(lease_until=past, status_changed_at=past,
                                             last_instance_received_at=past)
    assert services.requeue_stuck_studies(older_than=timedelta(0)) == [study.id]
    wait_for(lambda: queued_events(study) == 1)
    services.requeue_stuck_studies(older_than=timedelta(0))  # a second sweep finds nothing to do
    time.sleep(1.0)
    assert queued_events(study) == 1


def test_receive_instances__redis_down_keeps_study_received_until_sweep(celery_worker_process, hospital_a,
                                                                       make_user, api_client_for, phantom_series,
                                                                       redis_server):
    client = api_client_for(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))
    paths = phantom_series(slices=12)
    redis_server.stop()
    try:
        study = upload_phantom(client, hospital_a, paths, note=services.QUEUE_DOWN_NOTE)
        assert study.status == Study.Status.RECEIVED and Instance.objects.filter(series__study=study).count() == 12
    finally:
        redis_server.start()
    celery_worker_process.stop()
    celery_worker_process.start()
    past = timezone.now() - timedelta(minutes=11)
    Study.objects.filter(id=study.id).update(status_changed_at=past, last_instance_received_at=past)
    assert services.requeue_stuck_studies() == [study.id]
    wait_for(lambda: queued_events(study) == 1)


def test_ingest_study__a_study_sent_in_two_parts_is_ingested_once_whole(transactional_db, settings, tmp_path,
                                                                       hospital_a, make_user, api_client_for,
                                                                       phantom_series):
    """The first part's message finds the study still receiving; the second part's ingests all 16 slices."""
    from django.db import connection

    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs Redis: run the suite through tests/run.sh")
    settings.STUDY_STABLE_AGE_S = 3
    worker = WorkerProcess(_worker_env(connection.settings_dict["NAME"]) | {"TRIAGE_STABLE_AGE_SECONDS": "3"},
                           tmp_path / "worker.log", queues="ingest")
    worker.start()
    try:
        client = api_client_for(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))
        paths = phantom_series(slices=16, size_px=64)
        study = upload_phantom(client, hospital_a, paths[:8])
        time.sleep(1.5)  # a pause shorter than the stable age, as between two C-STORE associations
        upload_phantom(client, hospital_a, paths[8:])
        wait_for(lambda: queued_events(study) == 1, timeout_s=60)
        time.sleep(1.0)  # long enough for a second ingest to show up if there were one
    finally:
        worker.stop()
    study.refresh_from_db()
    [queued] = AuditEvent.objects.filter(action="study.queued", object_id=str(study.uuid))
    assert queued.extra["slices"] == 16 and study.selected_series.slice_count == 16
    assert queued.at - study.last_instance_received_at >= timedelta(seconds=3)
