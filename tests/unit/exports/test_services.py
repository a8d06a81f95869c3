import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from tests.unit.worklist.factories import make_study
from triage.audit.models import AuditEvent
from triage.core.exceptions import DomainError
from triage.exports import secrets, services
from triage.exports.models import ExportJob, SendOn


def test_retry_delay_s__doubles_up_to_an_hour():
    assert [services.retry_delay_s(n) for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]


def test_secrets__round_trip_and_a_changed_key_is_a_named_error(settings):
    token = secrets.encrypt("pw")
    assert token != "pw" and secrets.decrypt(token) == "pw" and secrets.encrypt("") == ""
    settings.SECRET_KEY = "another-key"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        secrets.decrypt(token)


@pytest.fixture
def stow(admin_a, hospital_a):
    return services.create_destination(actor=admin_a, hospital=hospital_a, name="PACS", kind="stow",
                                       url="https://pacs.example/dicom-web")


@pytest.fixture
def published(monkeypatch):
    """The studies whose export task was published (the broker is not needed to see that)."""
    from triage.exports import tasks

    sent = []
    monkeypatch.setattr(tasks.export_study, "delay", lambda *, study_id: sent.append(study_id))
    return sent


@pytest.mark.django_db
def test_study_changed__a_new_result_or_sign_off_publishes_the_export_after_commit(
        hospital_a, published, django_capture_on_commit_callbacks):
    from triage.core.signals import study_changed

    study = make_study(hospital=hospital_a, received_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        study_changed.send(sender="results", study=study)
        study_changed.send(sender="reports", study=study)
        study_changed.send(sender="studies", study=study)  # received or ingested: nothing to export yet
    assert published == []  # not before the commit
    for callback in callbacks:
        callback()

    assert published == [study.id, study.id]


@pytest.mark.django_db
def test_create_due_jobs__for_one_study_follows_the_hospital_setting(hospital_a, admin_a, stow):
    ready, other = (make_study(hospital=hospital_a, received_at=timezone.now(), probability=0.9) for _ in range(2))

    assert services.create_due_jobs(study_ids=[ready.id]) == []  # sends on sign-off by default
    services.set_send_on(actor=admin_a, hospital=hospital_a, send_on=SendOn.AI_READY)
    [job_id] = services.create_due_jobs(study_ids=[ready.id])

    assert ExportJob.objects.get(id=job_id).study == ready
    assert list(ExportJob.objects.filter(study=other)) == []


@pytest.mark.django_db
def test_set_send_on__unknown_value_is_refused_and_a_change_is_audited(hospital_a, admin_a, radiologist):
    with pytest.raises(DomainError):
        services.set_send_on(actor=admin_a, hospital=hospital_a, send_on="never")
    with pytest.raises(PermissionDenied):
        services.set_send_on(actor=radiologist, hospital=hospital_a, send_on=SendOn.AI_READY)
    services.set_send_on(actor=admin_a, hospital=hospital_a, send_on=SendOn.AI_READY)
    services.set_send_on(actor=admin_a, hospital=hospital_a, send_on=SendOn.AI_READY)  # unchanged: no event

    [event] = AuditEvent.objects.filter(action="export_settings.changed")
    assert event.extra == {"send_on": {"old": "signed", "new": "ai_ready"}}
