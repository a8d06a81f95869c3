import pytest

from triage.audit.models import AuditEvent
from triage.exports.models import Destination


@pytest.fixture
def created(api_client_for, admin_a, hospital_a):
    client = api_client_for(admin_a)
    response = client.post(f"/api/hospitals/{hospital_a.uuid}/export-destinations/", {
        "name": "PACS", "kind": "stow", "send_on": "ai_ready", "url": "https://pacs.example/dicom-web",
        "username": "triage", "password": "s3cr3t-never-shown"}, format="json")
    return client, response


@pytest.mark.django_db
def test_destination_list_api__password_is_stored_encrypted_and_never_answered(created, hospital_a):
    client, response = created
    listed = client.get(f"/api/hospitals/{hospital_a.uuid}/export-destinations/")

    assert response.status_code == 201, response.json()
    assert response.json()["has_password"] is True
    for body in (response.content, listed.content):
        assert b"s3cr3t-never-shown" not in body and b"password_encrypted" not in body
    stored = Destination.objects.get()
    assert stored.password_encrypted and "s3cr3t" not in stored.password_encrypted
    event = AuditEvent.objects.get(action="export_destination.created")
    assert "s3cr3t" not in str(event.extra) and event.extra["has_password"] is True


@pytest.mark.django_db
def test_destination_list_api__cstore_without_address_names_the_fields(api_client_for, admin_a, hospital_a):
    response = api_client_for(admin_a).post(f"/api/hospitals/{hospital_a.uuid}/export-destinations/",
                                            {"name": "PACS", "kind": "cstore", "host": "pacs"}, format="json")

    assert response.status_code == 400
    assert response.json()["extra"]["missing"] == ["ae_title", "port"]


@pytest.mark.django_db
def test_destination_list_api__radiologists_and_other_hospitals_are_refused(created, api_client_for, radiologist,
                                                                            admin_b, hospital_a):
    url = f"/api/hospitals/{hospital_a.uuid}/export-destinations/"

    assert api_client_for(radiologist).get(url).status_code == 403
    assert api_client_for(admin_b).get(url).status_code == 404
