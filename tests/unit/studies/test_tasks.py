from unittest import mock

import pytest

from tests.unit.studies.helpers import read_paths, receive
from triage.audit.models import AuditEvent
from triage.studies import services, tasks
from triage.studies.checks import check_study_storage
from triage.studies.models import Study

pytestmark = pytest.mark.django_db


def test_ingest_study_task__runs_twice_safely(hospital_a, make_user, phantom_series):
    user = make_user(hospital=hospital_a, role="radiologist")
    receive(hospital=hospital_a, user=user, files=read_paths(phantom_series()))
    study = Study.objects.get()
    with mock.patch.object(services, "enqueue_analysis", return_value=True):
        tasks.ingest_study.apply(kwargs={"study_id": study.id})
        tasks.ingest_study.apply(kwargs={"study_id": study.id})
    study.refresh_from_db()
    assert study.status == Study.Status.QUEUED
    assert AuditEvent.objects.filter(action="study.queued").count() == 1


def test_ingest_study_task__missing_study_is_a_no_op():
    result = tasks.ingest_study.apply(kwargs={"study_id": 987654})
    assert result.successful()


def test_ingest_study_task__retries_on_database_operational_error(hospital_a):
    from django.db.utils import OperationalError
    with mock.patch("triage.studies.services.ingest_study", side_effect=OperationalError("gone")):
        with mock.patch.object(tasks.ingest_study, "retry", side_effect=RuntimeError("retry")) as retry:
            tasks.ingest_study.apply(kwargs={"study_id": 1})
    assert retry.called


def test_requeue_stuck_studies_task__returns_count():
    with mock.patch("triage.studies.services.requeue_stuck_studies", return_value=[1, 2]):
        assert tasks.requeue_stuck_studies.apply().get() == 2


def test_check_study_storage__reports_folder_that_cannot_be_created(settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings.STORAGES = settings.STORAGES | {"default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(blocker / "x")}}}
    assert [e.id for e in check_study_storage()] == ["studies.E001"]


def test_check_study_storage__passes_for_writable_folder(study_storage):
    assert check_study_storage() == []

