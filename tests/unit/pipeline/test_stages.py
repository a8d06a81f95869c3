"""The analysis as three tasks (prepare → classify → finish): hand-offs, dead workers at each stage, duplicates.

The inference calls are replaced by fixed stage outputs; the claims, the blobs in the study
store and the messages each step sends are real (the broker is recorded, not run).
"""
from datetime import timedelta
from unittest import mock

import numpy as np
import pytest
from django.utils import timezone

from inference.analysis import StudyScores
from inference.preprocess import StudyPlan
from inference.stages import ClassifiedSlices, PreparedSlices
from tests.unit.results.test_services import fake_analysis, make_study, model_version  # noqa: F401 (fixtures)
from triage.pipeline import services
from triage.results import services as result_services
from triage.results.models import Result
from triage.core import object_store
from triage.studies.leases import CLAIM_LEASE
from triage.studies.models import Study
from triage.studies.services import stages as stage_services
from triage.studies.services import states as study_states

pytestmark = pytest.mark.django_db
Stage = Study.AnalysisStage
PLAN = StudyPlan(np.arange(3, 9), np.ones(12), (0, 64, 0, 64))
PREPARED = PreparedSlices(PLAN, np.zeros((6, 8, 8), np.uint8), {"decode": 0.1, "preprocess": 0.1})
CLASSIFIED = ClassifiedSlices(PLAN, StudyScores(np.full((6, 3), 1 / 3, np.float32), 0.7, 0.9,
                                                {"normal": 0.15, "pneumonia": 0.15, "covid": 0.7}),
                              np.array([5, 6]), np.zeros((2, 8, 8), np.float32), None, {"classify": 0.2})


@pytest.fixture
def sent():
    """Record the stage messages instead of publishing them: ``{stage: [study ids]}``."""
    calls: dict[str, list[int]] = {Stage.CLASSIFY: [], Stage.FINISH: []}
    fakes = {stage: (lambda *, study_id, _stage=stage: calls[_stage].append(study_id) or True) for stage in calls}
    with mock.patch.dict(services.STAGE_ENQUEUERS, fakes):
        yield calls


@pytest.fixture
def inference_stubbed():
    """Each stage's inference call returns a fixed output; the volume is never decoded."""
    with mock.patch.object(services, "read_selected_volume"), \
            mock.patch.object(result_services, "prepare_analysis", return_value=PREPARED) as prepare, \
            mock.patch.object(result_services, "classify_analysis", return_value=CLASSIFIED) as classify, \
            mock.patch.object(result_services, "finish_analysis", return_value=fake_analysis(0.7)) as finish:
        yield {"prepare": prepare, "classify": classify, "finish": finish}


def stored(key: str) -> bool:
    try:
        object_store.read_content(key)
    except FileNotFoundError:
        return False
    return True


def expire_lease(study: Study) -> None:
    Study.objects.filter(id=study.id).update(lease_until=timezone.now() - timedelta(seconds=1))


def test_stages__hand_on_through_the_store_and_end_with_one_result(
        make_study, model_version, sent, inference_stubbed, django_capture_on_commit_callbacks):
    study = make_study(status="queued")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.analyse_study(study_id=study.id) is None
    prepared = Study.objects.get(id=study.id)
    assert (prepared.status, prepared.analysis_stage) == ("processing", Stage.PREPARED)
    assert prepared.analysis_blob.startswith(f"analysis/{study.hospital.uuid}/") and stored(prepared.analysis_blob)
    assert sent[Stage.CLASSIFY] == [study.id] and not Result.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        services.classify_study(study_id=study.id)
    classified = Study.objects.get(id=study.id)
    assert classified.analysis_stage == Stage.CLASSIFIED and sent[Stage.FINISH] == [study.id]
    assert not stored(prepared.analysis_blob)  # the GPU stage's input is dropped once its output is handed on
    handed = inference_stubbed["classify"].call_args.kwargs["prepared"]
    assert np.array_equal(handed.slices_uint8, PREPARED.slices_uint8) and handed.stage_seconds == PREPARED.stage_seconds

    with django_capture_on_commit_callbacks(execute=True):
        result = services.finish_study(study_id=study.id)
    ready = Study.objects.get(id=study.id)
    assert (ready.status, ready.analysis_stage, ready.analysis_blob, ready.lease_until) == ("ready", "", "", None)
    assert result.covid_probability == 0.7 and Result.objects.filter(study=study, is_current=True).count() == 1
    assert not stored(classified.analysis_blob)
    assert inference_stubbed["finish"].call_args.kwargs["classified"].scores.covid_probability == 0.7


def run_sent(sent, capture) -> None:
    """Deliver the recorded stage messages one by one, as workers would, until none is left."""
    steps = {Stage.CLASSIFY: services.classify_study, Stage.FINISH: services.finish_study}
    while sent[Stage.CLASSIFY] or sent[Stage.FINISH]:
        stage = Stage.CLASSIFY if sent[Stage.CLASSIFY] else Stage.FINISH
        study_id = sent[stage].pop()
        with capture(execute=True):
            steps[stage](study_id=study_id)


@pytest.mark.parametrize("stage", [Stage.PREPARE, Stage.CLASSIFY, Stage.FINISH])
def test_stages__a_dead_workers_stage_is_resumed_by_the_sweep_with_one_result(
        stage, make_study, model_version, sent, inference_stubbed, django_capture_on_commit_callbacks):
    study = make_study(status="queued")
    if stage != Stage.PREPARE:
        with django_capture_on_commit_callbacks(execute=True):
            services.analyse_study(study_id=study.id)
    if stage == Stage.FINISH:
        with django_capture_on_commit_callbacks(execute=True):
            services.classify_study(study_id=study.id)
    sent[Stage.CLASSIFY].clear(), sent[Stage.FINISH].clear()
    # A worker claims ``stage`` and dies: its lease is never renewed.
    if stage == Stage.PREPARE:
        assert study_states.claim_study_for_processing(study_id=study.id, lease=CLAIM_LEASE)
    else:
        assert stage_services.claim_analysis_stage(study_id=study.id, stage=stage, lease=CLAIM_LEASE)
    with pytest.raises(services.StudyLeaseHeld):  # the sweep's message meanwhile waits for the lease
        services.analyse_study(study_id=study.id)
    expire_lease(study)
    with django_capture_on_commit_callbacks(execute=True):
        services.analyse_study(study_id=study.id)  # what the sweep sends once the lease ran out
    run_sent(sent, django_capture_on_commit_callbacks)
    assert Study.objects.get(id=study.id).status == "ready"
    assert Result.objects.filter(study=study).count() == 1


def test_stages__a_duplicated_message_does_its_stage_once(make_study, model_version, sent, inference_stubbed,
                                                          django_capture_on_commit_callbacks):
    study = make_study(status="queued")
    with django_capture_on_commit_callbacks(execute=True):
        services.analyse_study(study_id=study.id)
        services.classify_study(study_id=study.id)
        assert services.classify_study(study_id=study.id) is None  # handed on already: nothing to do
        services.finish_study(study_id=study.id)
        assert services.finish_study(study_id=study.id) is None
    assert inference_stubbed["classify"].call_count == 1 and inference_stubbed["finish"].call_count == 1
    assert sent[Stage.CLASSIFY] == [study.id] and sent[Stage.FINISH] == [study.id]
    assert Result.objects.filter(study=study).count() == 1


def test_stages__a_lost_message_is_sent_again_after_the_hand_off_wait(make_study, model_version, sent,
                                                                       inference_stubbed,
                                                                       django_capture_on_commit_callbacks):
    study = make_study(status="queued")
    with django_capture_on_commit_callbacks(execute=True):
        services.analyse_study(study_id=study.id)
    sweep = mock.Mock(return_value=True)
    with mock.patch.dict(services.SWEEP_ENQUEUERS, {Study.Status.PROCESSING: sweep, Study.Status.QUEUED: sweep}):
        assert services.requeue_stuck_analyses() == 0  # waiting in the gpu queue is not stuck
        expire_lease(study)  # HANDOFF_WAIT later, no GPU worker took it: the message is presumed lost
        assert services.requeue_stuck_analyses() == 1
    services.analyse_study(study_id=study.id)  # the sweep's message resumes it at its waiting stage
    assert sent[Stage.CLASSIFY] == [study.id, study.id]
    assert Study.objects.get(id=study.id).analysis_stage == Stage.PREPARED


def test_stages__a_study_reopened_during_the_gpu_stage_hands_nothing_on(make_study, model_version, sent,
                                                                         inference_stubbed,
                                                                         django_capture_on_commit_callbacks):
    study = make_study(status="queued")
    with django_capture_on_commit_callbacks(execute=True):
        services.analyse_study(study_id=study.id)

    def reopen_then_classify(**kwargs):
        Study.objects.filter(id=study.id).update(status="received")  # new slices arrived meanwhile
        return CLASSIFIED

    inference_stubbed["classify"].side_effect = reopen_then_classify
    with django_capture_on_commit_callbacks(execute=True):
        assert services.classify_study(study_id=study.id) is None
    assert Study.objects.get(id=study.id).status == "received" and sent[Stage.FINISH] == []


def test_stages__a_study_reopened_while_finishing_stores_nothing(make_study, model_version, sent, inference_stubbed,
                                                                 django_capture_on_commit_callbacks):
    study = make_study(status="queued")
    with django_capture_on_commit_callbacks(execute=True):
        services.analyse_study(study_id=study.id)
        services.classify_study(study_id=study.id)

    def reopen_then_finish(**kwargs):
        Study.objects.filter(id=study.id).update(status="received")
        return fake_analysis()

    inference_stubbed["finish"].side_effect = reopen_then_finish
    assert services.finish_study(study_id=study.id) is None
    assert Study.objects.get(id=study.id).status == "received" and not Result.objects.exists()


def test_stages__a_volume_model_runs_whole_in_the_gpu_stage(make_study, model_version, sent, inference_stubbed,
                                                            django_capture_on_commit_callbacks):
    model_version.card = {"kind": "volume"}
    model_version.save(update_fields=["card"])
    study = make_study(status="queued")
    with django_capture_on_commit_callbacks(execute=True), \
            mock.patch.object(result_services, "run_analysis", return_value=fake_analysis(0.6)) as whole:
        services.analyse_study(study_id=study.id)
        assert Study.objects.get(id=study.id).analysis_blob == ""
        result = services.classify_study(study_id=study.id)
    assert whole.call_count == 1 and inference_stubbed["prepare"].call_count == 0
    assert result.covid_probability == 0.6 and Study.objects.get(id=study.id).status == "ready"


def test_stages__a_study_failed_between_stages_leaves_no_blob(make_study, model_version, sent, inference_stubbed,
                                                              django_capture_on_commit_callbacks):
    study = make_study(status="queued")
    with django_capture_on_commit_callbacks(execute=True):
        services.analyse_study(study_id=study.id)
    blob = Study.objects.get(id=study.id).analysis_blob
    with django_capture_on_commit_callbacks(execute=True):
        study_states.mark_study_failed(study_id=study.id, reason="The GPU stage gave up.")
    failed = Study.objects.get(id=study.id)
    assert (failed.status, failed.analysis_stage, failed.analysis_blob) == ("failed", "", "") and not stored(blob)


def test_stages__a_lesion_feature_model_runs_whole_where_it_is_prepared(make_study, model_version, sent,
                                                                        inference_stubbed,
                                                                        django_capture_on_commit_callbacks):
    model_version.card = {"kind": "features"}  # an MLP on quantification features: CPU work, no GPU stage
    model_version.save(update_fields=["card"])
    study = make_study(status="queued")
    with django_capture_on_commit_callbacks(execute=True), \
            mock.patch.object(result_services, "run_analysis", return_value=fake_analysis(0.4)) as whole:
        result = services.analyse_study(study_id=study.id)
    assert whole.call_count == 1 and result.covid_probability == 0.4
    assert Study.objects.get(id=study.id).status == "ready" and sent == {Stage.CLASSIFY: [], Stage.FINISH: []}
