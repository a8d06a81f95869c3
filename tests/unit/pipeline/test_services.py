from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from tests.corpus.make_bad_inputs import ct_series
from tests.unit.results.test_services import fake_analysis, make_study, model_version  # noqa: F401 (fixtures)
from tests.unit.studies.helpers import incoming, read_paths, receive
from triage.audit.models import AuditEvent
from triage.pipeline import services, tasks
from triage.pipeline.enqueue import PUBLISH_RETRY_POLICY
from triage.results import services as result_services
from triage.results.models import Result
from triage.results.services import store_analysis
from triage.studies.services import ingest as study_ingest
from triage.studies.services import states as study_states
from triage.studies.exceptions import UnreadableSeries
from triage.studies.models import Study

pytestmark = pytest.mark.django_db
Status = Study.Status


def upload(hospital, user, files: dict[str, bytes]):
    return services.receive_upload(hospital=hospital, uploaded_by=user, files=incoming(files), source="api")


def sent(task) -> mock.MagicMock:
    """Stand in for the broker: record what ``task`` would publish."""
    return mock.patch.object(task, "apply_async")


# --- receive_upload ------------------------------------------------------------------------------

def test_receive_upload__enqueues_ingest_on_commit(hospital_a, radiologist, django_capture_on_commit_callbacks):
    with sent(tasks.ingest_study) as send, django_capture_on_commit_callbacks(execute=True):
        report = upload(hospital_a, radiologist, ct_series(slices=2))
    send.assert_called_once_with(kwargs={"study_id": Study.objects.get().id}, queue="ingest",
                                 retry_policy=PUBLISH_RETRY_POLICY, ignore_result=True)
    assert not report.queue_unavailable and report.note == ""


def test_receive_upload__ingest_is_due_one_stable_age_later(hospital_a, radiologist, settings,
                                                            django_capture_on_commit_callbacks):
    settings.STUDY_STABLE_AGE_S = 20
    with sent(tasks.ingest_study) as send, django_capture_on_commit_callbacks(execute=True):
        upload(hospital_a, radiologist, ct_series(slices=2))
    assert send.call_args.kwargs["countdown"] == 20


def test_ingest_study__a_study_still_receiving_is_looked_at_again_once_stable(hospital_a, radiologist, settings,
                                                                             django_capture_on_commit_callbacks):
    settings.STUDY_STABLE_AGE_S = 20
    start = timezone.now()
    receive(hospital=hospital_a, user=radiologist, files=ct_series(slices=9), now=start)
    study = Study.objects.get()
    with sent(tasks.ingest_study) as send, django_capture_on_commit_callbacks(execute=True):
        assert services.ingest_study(study_id=study.id, now=start + timedelta(seconds=8)) is None
    assert send.call_args.kwargs["countdown"] == 12  # the rest of the stable age, not a whole one
    study.refresh_from_db()
    assert study.status == Status.RECEIVED and study.lease_until is None


def test_receive_upload__broker_down_keeps_study_received_with_note(hospital_a, radiologist,
                                                                   django_capture_on_commit_callbacks):
    with mock.patch.object(tasks.ingest_study, "apply_async", side_effect=BrokerError("connection refused")):
        with django_capture_on_commit_callbacks(execute=True):
            report = upload(hospital_a, radiologist, ct_series(slices=2))
    assert report.queue_unavailable and report.note == services.QUEUE_DOWN_NOTE
    assert Study.objects.get().status == Status.RECEIVED


def test_receive_upload__nothing_is_sent_before_commit(hospital_a, radiologist, django_capture_on_commit_callbacks):
    with sent(tasks.ingest_study) as send, django_capture_on_commit_callbacks(execute=False) as pending:
        upload(hospital_a, radiologist, ct_series(slices=2))
    assert not send.called and len(pending) == 1


# --- ingest_study ----------------------------------------------------------------------------------

def test_ingest_study__queued_study_goes_to_the_prepare_queue_on_commit(hospital_a, radiologist, phantom_series,
                                                                   django_capture_on_commit_callbacks):
    receive(hospital=hospital_a, user=radiologist, files=read_paths(phantom_series(slices=12)))
    study = Study.objects.get()
    with sent(tasks.analyse_study) as send, django_capture_on_commit_callbacks(execute=True):
        queued = services.ingest_study(study_id=study.id)
    assert queued.status == Status.QUEUED
    send.assert_called_once_with(kwargs={"study_id": study.id}, queue="prepare", retry_policy=PUBLISH_RETRY_POLICY,
                                 ignore_result=True)


def test_ingest_study__a_second_run_sends_nothing(hospital_a, radiologist, phantom_series,
                                                  django_capture_on_commit_callbacks):
    receive(hospital=hospital_a, user=radiologist, files=read_paths(phantom_series(slices=12)))
    study = Study.objects.get()
    services.ingest_study(study_id=study.id)
    with sent(tasks.analyse_study) as send, django_capture_on_commit_callbacks(execute=True):
        assert services.ingest_study(study_id=study.id) is None
    assert not send.called


def test_ingest_study__instances_arriving_meanwhile_send_it_to_ingest_again(hospital_a, radiologist, phantom_series,
                                                                           django_capture_on_commit_callbacks):
    receive(hospital=hospital_a, user=radiologist, files=read_paths(phantom_series(slices=12)))
    study = Study.objects.get()
    later = timezone.now() + timedelta(seconds=1)
    real_queue = study_states.mark_study_queued

    def new_instance_first(**kwargs):
        Study.objects.filter(id=study.id).update(last_instance_received_at=later)  # an upload landed meanwhile
        return real_queue(**kwargs)

    with mock.patch.object(study_ingest, "mark_study_queued", side_effect=new_instance_first), \
            sent(tasks.ingest_study) as again, sent(tasks.analyse_study) as analyse, \
            django_capture_on_commit_callbacks(execute=True):
        assert services.ingest_study(study_id=study.id) is None
    assert again.call_count == 1 and not analyse.called
    assert Study.objects.get(id=study.id).status == Status.RECEIVED


# --- analyse_study ---------------------------------------------------------------------------------

def test_analyse_study__existing_result_for_active_model_only_marks_ready(make_study, model_version):
    study = make_study(status="processing")
    store_analysis(study=study, model_version=model_version, analysis=fake_analysis())
    Study.objects.filter(id=study.id).update(status="queued")
    with mock.patch.object(result_services, "loaded_model", side_effect=AssertionError("must not load the model")):
        result = services.analyse_study(study_id=study.id)
    assert Result.objects.filter(study=study).count() == 1 and result.study_id == study.id
    assert Study.objects.get(id=study.id).status == "ready"


def test_analyse_study__ready_or_missing_study_is_a_no_op(make_study, model_version):
    study = make_study(status="ready")
    with mock.patch.object(result_services, "loaded_model", side_effect=AssertionError("must not load the model")):
        assert services.analyse_study(study_id=study.id) is None
        assert services.analyse_study(study_id=987654) is None
    assert not Result.objects.exists()


def test_analyse_study__live_lease_of_another_worker_asks_to_retry_later(make_study, model_version):
    study = make_study(status="processing", lease_until=timezone.now() + timedelta(seconds=90))
    with pytest.raises(services.StudyLeaseHeld) as held:
        services.analyse_study(study_id=study.id)
    assert 80 <= held.value.retry_after_s <= 91


def test_analyse_study__unreadable_series_raises_a_readable_domain_error(make_study, model_version):
    study = make_study(status="queued")
    with pytest.raises(UnreadableSeries, match="no CT series selected"):
        services.analyse_study(study_id=study.id)


# --- reprocess, re-analysis --------------------------------------------------------------------------

def test_reprocess_study__failed_study_with_a_series_goes_to_analysis(hospital_a, radiologist, admin_a,
                                                                      phantom_series,
                                                                      django_capture_on_commit_callbacks):
    receive(hospital=hospital_a, user=radiologist, files=read_paths(phantom_series()))
    study = study_ingest.ingest_study(study_id=Study.objects.get().id).study
    study_states.mark_study_failed(study_id=study.id, reason="x")
    with sent(tasks.analyse_study) as analyse, sent(tasks.ingest_study) as ingest, \
            django_capture_on_commit_callbacks(execute=True):
        again = services.reprocess_study(actor=admin_a, study=Study.objects.get(id=study.id))
    assert again.status == Status.QUEUED
    assert analyse.call_count == 1 and not ingest.called


def test_reprocess_study__failed_study_without_a_series_goes_to_ingest(hospital_a, radiologist, admin_a,
                                                                       django_capture_on_commit_callbacks):
    receive(hospital=hospital_a, user=radiologist, files=ct_series(slices=2))
    study = Study.objects.get()
    study_states.mark_study_failed(study_id=study.id, reason="No usable axial CT series")
    with sent(tasks.analyse_study) as analyse, sent(tasks.ingest_study) as ingest, \
            django_capture_on_commit_callbacks(execute=True):
        again = services.reprocess_study(actor=admin_a, study=Study.objects.get(id=study.id))
    assert again.status == Status.RECEIVED
    ingest.assert_called_once()
    assert not analyse.called


def test_reanalyse_ready_studies__queues_ready_studies_only(make_study, model_version,
                                                            django_capture_on_commit_callbacks):
    ready = make_study(status="ready")
    make_study(status="failed", failure_reason="x")
    with sent(tasks.analyse_study) as send, django_capture_on_commit_callbacks(execute=True):
        assert services.reanalyse_ready_studies(actor=None) == 1
    assert Study.objects.get(id=ready.id).status == "queued"
    send.assert_called_once_with(kwargs={"study_id": ready.id}, queue="prepare", retry_policy=PUBLISH_RETRY_POLICY,
                                 ignore_result=True)
    assert AuditEvent.objects.filter(action="result.reanalysis_requested", object_id=str(ready.uuid)).count() == 1


def test_activate_model_version__reanalyses_only_when_the_active_model_changes(make_study, make_user):
    from inference.registry import active_model_name

    admin = make_user(is_platform_admin=True)
    ready = make_study(status="ready")
    version = services.activate_model_version(actor=admin, reference=active_model_name(), reanalyse=True)
    assert version.is_active and Study.objects.get(id=ready.id).status == "queued"
    Study.objects.filter(id=ready.id).update(status="ready")
    services.activate_model_version(actor=admin, reference=active_model_name(), reanalyse=True)  # already active
    assert Study.objects.get(id=ready.id).status == "ready"


# --- sweeps --------------------------------------------------------------------------------------------

def test_requeue_stuck_studies__re_enqueues_old_received_only(hospital_a, radiologist):
    receive(hospital=hospital_a, user=radiologist, files=ct_series(slices=2))
    study = Study.objects.get()
    with mock.patch.object(services, "SWEEP_ENQUEUERS", {Status.RECEIVED: mock.Mock(return_value=True)}) as fake:
        assert services.requeue_stuck_studies(now=timezone.now()) == []
        later = timezone.now() + timedelta(minutes=11)
        assert services.requeue_stuck_studies(now=later) == [study.id]
    fake[Status.RECEIVED].assert_called_once_with(study_id=study.id)


def test_requeue_stuck_studies__re_enqueues_a_dead_workers_ingest_claim_without_the_grace(hospital_a, radiologist):
    receive(hospital=hospital_a, user=radiologist, files=ct_series(slices=2))
    study = Study.objects.get()
    now = timezone.now()
    Study.objects.filter(id=study.id).update(lease_until=now + timedelta(seconds=30))  # a worker's claim
    with mock.patch.object(services, "SWEEP_ENQUEUERS", {Status.RECEIVED: mock.Mock(return_value=True)}):
        assert services.requeue_stuck_studies(now=now) == []  # renewed lease: the worker lives
        assert services.requeue_stuck_studies(now=now + timedelta(seconds=31)) == [study.id]


def test_requeue_stuck_studies__skips_a_study_still_receiving_instances(hospital_a, radiologist):
    receive(hospital=hospital_a, user=radiologist, files=ct_series(slices=2))
    now = timezone.now()
    Study.objects.update(status_changed_at=now - timedelta(hours=1), last_instance_received_at=now - timedelta(minutes=1))
    with mock.patch.object(services, "SWEEP_ENQUEUERS", {Status.RECEIVED: mock.Mock(return_value=True)}) as fake:
        assert services.requeue_stuck_studies(now=now) == []
    assert not fake[Status.RECEIVED].called


def test_requeue_stuck_analyses__sends_queued_and_lease_expired_studies_to_analysis(make_study):
    old = timezone.now() - timedelta(minutes=30)
    queued = make_study(status="queued", status_changed_at=old)
    dead = make_study(status="processing", status_changed_at=old, lease_until=timezone.now() - timedelta(seconds=1))
    make_study(status="processing", status_changed_at=old, lease_until=timezone.now() + timedelta(minutes=1))
    analyse = mock.Mock(return_value=True)
    with mock.patch.dict(services.SWEEP_ENQUEUERS, {Status.QUEUED: analyse, Status.PROCESSING: analyse}):
        assert services.requeue_stuck_analyses() == 2
    assert sorted(c.kwargs["study_id"] for c in analyse.call_args_list) == sorted([queued.id, dead.id])
