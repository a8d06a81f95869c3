import pytest
from django.db import connection, transaction
from django.db.utils import InternalError

from triage.accounts.models import Role
from triage.audit.models import AuditEvent, AuditLogIsAppendOnly
from triage.audit.services import record_event


@pytest.mark.django_db
def test_record_event__rejects_undotted_action():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        record_event(actor=None, action="Viewed")


@pytest.mark.django_db
def test_audit_event__cannot_be_updated_or_deleted_through_the_app():
    event = record_event(actor=None, action="system.test")
    event.action = "system.changed"
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().update(action="system.changed")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()


@pytest.mark.django_db
def test_audit_event__postgresql_trigger_refuses_raw_update():
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only")
    record_event(actor=None, action="system.test")
    with pytest.raises(InternalError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE audit_auditevent SET action = 'x.y'")


@pytest.mark.django_db
def test_login__success_and_failure_are_audited_with_ip(client, hospital_a, make_user):
    from tests.conftest import TEST_PASSWORD

    user = make_user(hospital=hospital_a, role=Role.CLINICIAN, username="dr.who")
    client.post("/login/", {"username": "dr.who", "password": "wrong"}, REMOTE_ADDR="10.1.2.3")
    client.post("/login/", {"username": "dr.who", "password": TEST_PASSWORD}, REMOTE_ADDR="10.1.2.3")
    failed = AuditEvent.objects.get(action="auth.login_failed")
    assert failed.extra["username"] == "dr.who" and failed.ip_address == "10.1.2.3"
    assert AuditEvent.objects.get(action="auth.login").actor == user


@pytest.mark.django_db
def test_audit_event_list_api__admin_sees_only_own_hospital(hospital_a, hospital_b, make_user, api_client_for):
    admin_a = make_user(hospital=hospital_a, role=Role.ADMIN)
    record_event(actor=None, action="system.test", hospital=hospital_a)
    record_event(actor=None, action="system.test", hospital=hospital_b)
    body = api_client_for(admin_a).get("/api/audit/events/").json()
    hospitals = {row["hospital"] for row in body["results"] if row["action"] == "system.test"}
    assert hospitals == {str(hospital_a.uuid)}
    assert AuditEvent.objects.filter(action="audit.viewed", actor=admin_a).exists()


@pytest.mark.django_db
def test_audit_event_list_api__clinician_sees_nothing(hospital_a, make_user, api_client_for):
    record_event(actor=None, action="system.test", hospital=hospital_a)
    clinician = make_user(hospital=hospital_a, role=Role.CLINICIAN)
    assert api_client_for(clinician).get("/api/audit/events/").json()["count"] == 0
