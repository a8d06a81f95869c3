"""A study flows from upload to a stored result through a real worker, Redis and PostgreSQL,
including a worker killed mid-analysis, Redis down during upload and a corrupt stored slice."""
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.integration.helpers import reads_block, upload_phantom, wait_for
from triage.accounts.models import Role
from triage.results.models import Overlay, Quantification, Result, SliceScore
from triage.pipeline import enqueue
from triage.pipeline import services as pipeline_services
from triage.pipeline.services import QUEUE_DOWN_NOTE, requeue_stuck_analyses
from triage.studies.services import ingest as study_ingest
from triage.studies.models import Instance, Study

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def status_of(study: Study) -> str:
    return Study.objects.values_list("status", flat=True).get(id=study.id)


@pytest.fixture
def uploader(hospital_a, make_user, api_client_for):
    return api_client_for(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))


def test_analyse_study__upload_to_ready_with_every_result_row(celery_worker_process, uploader, hospital_a,
                                                              phantom_series):
    study = upload_phantom(uploader, hospital_a, phantom_series(slices=24, size_px=128, severity="moderate"))
    wait_for(lambda: status_of(study) in {"ready", "failed"}, timeout_s=240, interval_s=0.5)
    study.refresh_from_db()
    assert study.status == "ready", study.failure_reason
    result = Result.objects.get(study=study)
    assert result.is_current and 0 <= result.covid_probability <= 1
    assert result.model_version.is_active and len(result.model_version.weights_sha256) == 64
    # A pixel model's three stages (prepare, classify, finish) each add theirs (Grad-CAM "explain",
    # overlays "render"); a lesion-feature model runs whole in one CPU task.
    staged = {"preprocess", "render"} if result.model_version.card.get("kind") != "features" else set()
    assert set(result.stage_seconds) == {"decode", "classify", "aggregate", "explain", "quantify", "domain"} | staged
    assert SliceScore.objects.filter(result=result).count() == result.slices_scored > 0
    quantification = Quantification.objects.get(result=result)
    assert quantification.lung_left_ml > 100 and quantification.lesion_total_ml > 0
    # The explanation of each key slice: a Grad-CAM heatmap from a pixel model, the lesion outline from a
    # lesion-feature model (its inputs are that segmentation).
    explanation = "lesion" if result.model_version.card.get("kind") == "features" else "gradcam"
    assert Overlay.objects.filter(result=result, kind=explanation).count() == len(result.key_slice_indices) > 0
    assert "inference.model_loaded" in celery_worker_process.log_text(since=celery_worker_process.process_log_start)


def _ingest_without_handoff(study: Study) -> None:
    study_ingest.ingest_study(study_id=study.id)  # the step alone: nothing is sent to the gpu queue
    study.refresh_from_db()
    assert study.status == "queued"


def test_analyse_study__sigkill_mid_analysis_then_exactly_one_result(celery_worker_process, uploader, hospital_a,
                                                                    phantom_series):
    with mock.patch.object(pipeline_services, "enqueue_ingest", return_value=True):
        study = upload_phantom(uploader, hospital_a, phantom_series(slices=16, size_px=96))
    _ingest_without_handoff(study)
    with reads_block(Instance.objects.filter(series_id=study.selected_series_id).order_by("z_position_mm")[3]):
        assert enqueue.enqueue_analysis(study_id=study.id)
        wait_for(lambda: status_of(study) == "processing", timeout_s=60)
        time.sleep(0.5)
        celery_worker_process.kill()
    assert status_of(study) == "processing" and not Result.objects.filter(study=study).exists()

    celery_worker_process.start()
    # The killed worker's lease runs out; the periodic sweep hands the study to the new worker.
    past = timezone.now() - timedelta(seconds=1)
    Study.objects.filter(id=study.id).update(lease_until=past, status_changed_at=past)
    assert requeue_stuck_analyses() == 1
    wait_for(lambda: status_of(study) == "ready", timeout_s=240, interval_s=0.5)
    requeue_stuck_analyses()  # nothing left to do
    time.sleep(1.0)
    assert Result.objects.filter(study=study).count() == 1


def test_upload__redis_down_is_accepted_then_analysed_after_recovery(celery_worker_process, uploader, hospital_a,
                                                                     phantom_series, redis_server):
    paths = phantom_series(slices=16, size_px=96)
    redis_server.stop()
    try:
        study = upload_phantom(uploader, hospital_a, paths, note=QUEUE_DOWN_NOTE)
        assert status_of(study) == "received"
    finally:
        redis_server.start()
    past = timezone.now() - timedelta(minutes=30)
    Study.objects.filter(id=study.id).update(status_changed_at=past, last_instance_received_at=past)
    assert pipeline_services.requeue_stuck_studies(older_than=timedelta(minutes=5)) == [study.id]
    wait_for(lambda: status_of(study) in {"ready", "failed"}, timeout_s=240, interval_s=0.5)
    assert status_of(study) == "ready"
    assert Result.objects.filter(study=study).count() == 1


def test_analyse_study__corrupt_stored_slice_fails_with_reason(celery_worker_process, uploader, hospital_a,
                                                               phantom_series):
    with mock.patch.object(pipeline_services, "enqueue_ingest", return_value=True):
        study = upload_phantom(uploader, hospital_a, phantom_series(slices=16, size_px=96))
    _ingest_without_handoff(study)
    instance = Instance.objects.filter(series_id=study.selected_series_id).order_by("z_position_mm")[2]
    path = default_storage.path(instance.storage_path)
    data = open(path, "rb").read()
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])  # pixel data cut in half, as a failing disk would leave it
    assert enqueue.enqueue_analysis(study_id=study.id)
    wait_for(lambda: status_of(study) in {"ready", "failed"}, timeout_s=120, interval_s=0.5)
    study.refresh_from_db()
    assert study.status == "failed"
    assert study.failure_reason.startswith("The selected series could not be read as a CT volume")
    assert not Result.objects.filter(study=study).exists()
