"""Results back into a real PACS: Orthanc receives the SR, SEG and key images by C-STORE and STOW-RS."""
import warnings
from datetime import timedelta

import pytest
from django.utils import timezone

from tests import orthanc as peer
from tests.integration.helpers import free_port
from tests.unit.worklist.factories import add_overlay, add_result, make_study, store_series
from triage.audit.models import AuditEvent
from triage.exports import services
from triage.exports.models import Destination, ExportJob, SendOn
from triage.reports.services import sign_report

pytestmark = pytest.mark.integration
SR, SEG, SC = "1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.7"


@pytest.fixture
def pacs(orthanc):
    orthanc.clear()
    return orthanc


@pytest.fixture
def study(hospital_a, study_storage, phantom_series):
    study = make_study(hospital=hospital_a, received_at=timezone.now())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        files = [p.read_bytes() for p in phantom_series(slices=10, size_px=64, severity="moderate", seed=9,
                                                        study_instance_uid=study.study_instance_uid)]
    store_series(study=study, files=files)
    result = add_result(study=study, probability=0.91, label="covid19", lesion_fraction=0.2, severity=11)
    add_overlay(result=result, slice_index=4, size_px=64)
    return study


def back_fill():
    """A ``send_results_since`` before the fixture's result: these tests send results made just before."""
    return timezone.now() - timedelta(hours=1)


def cstore_destination(admin, hospital, pacs, *, send_on=SendOn.AI_READY, port=None, since="back-fill"):
    services.set_send_on(actor=admin, hospital=hospital, send_on=send_on)
    return services.create_destination(actor=admin, hospital=hospital, name="PACS", kind=Destination.Kind.CSTORE,
                                       ae_title=peer.AE_TITLE, host="127.0.0.1",
                                       port=port or pacs.dicom_port,
                                       send_results_since=back_fill() if since == "back-fill" else since)


def stow_destination(admin, hospital, pacs, *, password):
    services.set_send_on(actor=admin, hospital=hospital, send_on=SendOn.AI_READY)
    return services.create_destination(actor=admin, hospital=hospital, name="PACS web", kind=Destination.Kind.STOW,
                                       url=pacs.dicomweb_url, username=peer.USER, password=password,
                                       send_results_since=back_fill())


def send_all() -> list[ExportJob]:
    services.create_due_jobs()
    return [services.send_export(job_id=i) for i in services.due_job_ids()]


@pytest.mark.django_db
def test_send_export__cstore_peer_indexes_sr_seg_and_key_images(pacs, study, admin_a, hospital_a):
    destination = cstore_destination(admin_a, hospital_a, pacs)

    [job] = send_all()

    assert job.status == ExportJob.Status.SENT, job.last_error
    indexed = pacs.instance_tags()
    assert {uid: indexed[uid]["SOPClassUID"] for uid in job.sop_instance_uids} == dict(
        zip(job.sop_instance_uids, [SEG, SR, SC]))
    assert {indexed[uid]["StudyInstanceUID"] for uid in job.sop_instance_uids} == {study.study_instance_uid}
    assert AuditEvent.objects.filter(action="export.sent", hospital=hospital_a).count() == 1
    assert services.create_due_jobs() == [] and services.due_job_ids() == []  # sent once, no loop
    echo = services.echo_destination(actor=admin_a, destination=destination)
    assert echo.ok is True and echo.message == f"C-ECHO to {peer.AE_TITLE}@127.0.0.1:{pacs.dicom_port} succeeded."


@pytest.mark.django_db
def test_send_export__stow_with_credentials_and_resend_is_idempotent(pacs, study, admin_a, hospital_a):
    stow_destination(admin_a, hospital_a, pacs, password=peer.PASSWORD)
    [job] = send_all()
    assert job.status == ExportJob.Status.SENT, job.last_error

    services.request_resend(actor=admin_a, job=job)
    [again] = [services.send_export(job_id=i) for i in services.due_job_ids()]

    assert again.status == ExportJob.Status.SENT and again.sop_instance_uids == job.sop_instance_uids
    indexed = pacs.instance_tags()
    assert {indexed[uid]["SOPClassUID"] for uid in job.sop_instance_uids} == {SR, SEG, SC}
    assert len(indexed) == len(job.sop_instance_uids)  # the same UIDs replaced, nothing duplicated


@pytest.mark.django_db
def test_send_export__wrong_password_fails_at_once_with_the_reason(pacs, study, admin_a, hospital_a):
    stow_destination(admin_a, hospital_a, pacs, password="wrong")

    [job] = send_all()

    assert (job.status, job.attempts) == (ExportJob.Status.FAILED, 1)
    assert "HTTP 401" in job.last_error
    assert pacs.get("/instances") == []


@pytest.mark.django_db
def test_send_export__peer_down_backs_off_then_fails_after_max_attempts(pacs, study, admin_a, hospital_a):
    cstore_destination(admin_a, hospital_a, pacs, port=free_port())  # nothing listens there
    now = timezone.now()
    [job] = send_all()
    delays = []
    while job.status == ExportJob.Status.PENDING:
        delays.append(round((job.next_attempt_at - now).total_seconds()))
        assert services.due_job_ids(now=now) == []  # not before its backoff
        now = job.next_attempt_at + timedelta(seconds=1)
        [job_id] = services.due_job_ids(now=now)
        job = services.send_export(job_id=job_id, now=now)

    assert job.status == ExportJob.Status.FAILED and job.attempts == services.MAX_ATTEMPTS
    assert delays == [30, 60, 120, 240]
    assert "did not accept an association" in job.last_error


@pytest.mark.django_db
def test_create_due_jobs__never_back_fills_results_older_than_the_destination(pacs, study, admin_a, hospital_a):
    cstore_destination(admin_a, hospital_a, pacs, since=None)  # since now: the fixture's result is older

    assert services.create_due_jobs() == []


@pytest.mark.django_db
def test_create_due_jobs__on_sign_off_sends_the_signed_revision(pacs, study, admin_a, hospital_a, radiologist):
    cstore_destination(admin_a, hospital_a, pacs, send_on=SendOn.SIGNED, since=None)
    assert services.create_due_jobs() == []  # not signed yet

    sign_report(study=study, actor=radiologist, label="covid19", expected_version=0)
    [job] = send_all()

    assert (job.status, job.revision) == (ExportJob.Status.SENT, 1), job.last_error
    assert pacs.instance_tags()[job.sop_instance_uids[1]]["SOPClassUID"] == SR


@pytest.mark.django_db
def test_sign_off_sends_at_once_without_the_sweep(pacs, study, admin_a, hospital_a, radiologist,
                                                  django_capture_on_commit_callbacks):
    """The sign-off's commit triggers the export (eager Celery here); the sweep is never called."""
    from triage.celery import app

    cstore_destination(admin_a, hospital_a, pacs, send_on=SendOn.SIGNED, since=None)
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            sign_report(study=study, actor=radiologist, label="covid19", expected_version=0)
    finally:
        app.conf.task_always_eager = False

    [job] = ExportJob.objects.all()
    assert (job.status, job.revision) == (ExportJob.Status.SENT, 1), job.last_error
    assert set(pacs.instance_tags()) == set(job.sop_instance_uids)
