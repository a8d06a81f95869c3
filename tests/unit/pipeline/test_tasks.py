from unittest import mock

import pytest
from django.db.utils import OperationalError

from tests.corpus.make_bad_inputs import ct_series
from tests.unit.studies.helpers import read_paths, receive
from triage.audit.models import AuditEvent
from triage.pipeline import tasks
from triage.studies.models import Study

pytestmark = pytest.mark.django_db


def test_ingest_study_task__runs_twice_safely(hospital_a, make_user, phantom_series):
    user = make_user(hospital=hospital_a, role="radiologist")
    receive(hospital=hospital_a, user=user, files=read_paths(phantom_series()))
    study = Study.objects.get()
    tasks.ingest_study.apply(kwargs={"study_id": study.id})
    tasks.ingest_study.apply(kwargs={"study_id": study.id})
    study.refresh_from_db()
    assert study.status == Study.Status.QUEUED
    assert AuditEvent.objects.filter(action="study.queued").count() == 1


def test_ingest_study_task__missing_study_is_a_no_op():
    result = tasks.ingest_study.apply(kwargs={"study_id": 987654})
    assert result.successful() and result.result is None
    assert not AuditEvent.objects.exists()


def test_ingest_study_task__bad_data_marks_study_failed_via_hook(hospital_a, radiologist):
    receive(hospital=hospital_a, user=radiologist, files=ct_series(slices=2))
    study = Study.objects.get()
    tasks.ingest_study.apply(kwargs={"study_id": study.id})
    study.refresh_from_db()
    assert study.status == Study.Status.FAILED
    assert study.failure_reason.startswith("No usable axial CT series")
    assert "CORPUS" not in study.failure_reason


def test_ingest_study_task__retries_on_database_operational_error():
    with mock.patch("triage.pipeline.services.ingest_study", side_effect=OperationalError("gone")):
        with mock.patch.object(tasks.ingest_study, "retry", side_effect=RuntimeError("retry")) as retry:
            tasks.ingest_study.apply(kwargs={"study_id": 1})
    retry.assert_called_once()
    assert isinstance(retry.call_args.kwargs["exc"], OperationalError)


@pytest.mark.parametrize("task_name", ["ingest_study", "analyse_study"])
def test_study_tasks__retry_when_the_study_store_is_offline(task_name):
    from triage.core.exceptions import StorageOffline

    task = getattr(tasks, task_name)
    with mock.patch(f"triage.pipeline.services.{task_name}", side_effect=StorageOffline("S3 unreachable")):
        with mock.patch.object(task, "retry", side_effect=RuntimeError("retry")) as retry:
            task.apply(kwargs={"study_id": 1})
    assert isinstance(retry.call_args.kwargs["exc"], StorageOffline)


def test_analyse_study_task__lease_held_retries_when_the_lease_ends():
    from triage.pipeline.services import StudyLeaseHeld

    with mock.patch("triage.pipeline.services.analyse_study", side_effect=StudyLeaseHeld(retry_after_s=42)):
        with mock.patch.object(tasks.analyse_study, "retry", side_effect=RuntimeError("retry")) as retry:
            tasks.analyse_study.apply(kwargs={"study_id": 1})
    assert retry.call_args.kwargs == {"countdown": 42, "max_retries": None}


def test_requeue_stuck_studies_task__returns_count():
    with mock.patch("triage.pipeline.services.requeue_stuck_studies", return_value=[1, 2]):
        assert tasks.requeue_stuck_studies.apply().get() == 2


def test_tasks__keep_the_names_queued_messages_and_beat_use(settings):
    assert {tasks.ingest_study.name, tasks.analyse_study.name} == {"studies.ingest_study", "results.analyse_study"}
    beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {tasks.requeue_stuck_studies.name, tasks.requeue_stuck_analyses.name} <= beat


def test_analysis_tasks__run_on_their_steps_queues_and_only_the_model_on_gpu(settings):
    queues = {name: task.queue for name, task in (("prepare", tasks.analyse_study), ("classify", tasks.classify_study),
                                                  ("finish", tasks.finish_study))}
    assert queues == {step: settings.TRIAGE_PIPELINE_QUEUES[step]["queue"] for step in queues}
    assert queues["classify"] == "gpu" and "gpu" not in {queues["prepare"], queues["finish"]}
    assert {tasks.classify_study.name, tasks.finish_study.name} == {"results.classify_study", "results.finish_study"}


@pytest.mark.parametrize("task_name", ["classify_study", "finish_study"])
def test_stage_tasks__lease_held_retries_when_the_lease_ends(task_name):
    from triage.pipeline.services import StudyLeaseHeld

    task = getattr(tasks, task_name)
    with mock.patch(f"triage.pipeline.services.{task_name}", side_effect=StudyLeaseHeld(retry_after_s=7)):
        with mock.patch.object(task, "retry", side_effect=RuntimeError("retry")) as retry:
            task.apply(kwargs={"study_id": 1})
    assert retry.call_args.kwargs == {"countdown": 7, "max_retries": None}
