import pytest

from triage.accounts.models import Role
from triage.gateway.models import DicomNode


@pytest.mark.django_db
def test_dicom_node_list_api__admin_creates_and_lists_own_nodes(hospital_a, make_user, api_client_for):
    client = api_client_for(make_user(hospital=hospital_a, role=Role.ADMIN))
    url = f"/api/hospitals/{hospital_a.uuid}/dicom-nodes/"

    created = client.post(url, {"ae_title": "CT_WARD7", "description": "ward 7"}, format="json")
    listed = client.get(url)

    assert created.status_code == 201, created.json()
    assert [n["ae_title"] for n in listed.json()] == ["CT_WARD7"]
    assert listed.json()[0]["hospital"] == str(hospital_a.uuid)


@pytest.mark.django_db
def test_dicom_node_list_api__invalid_title_is_400_with_error_shape(hospital_a, make_user, api_client_for):
    client = api_client_for(make_user(hospital=hospital_a, role=Role.ADMIN))

    response = client.post(f"/api/hospitals/{hospital_a.uuid}/dicom-nodes/", {"ae_title": "BAD\\TITLE"}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"message", "extra"}
    assert not DicomNode.objects.exists()


@pytest.mark.django_db
def test_dicom_node_list_api__foreign_hospital_is_404(hospital_a, hospital_b, make_user, api_client_for):
    client = api_client_for(make_user(hospital=hospital_a, role=Role.ADMIN))

    response = client.post(f"/api/hospitals/{hospital_b.uuid}/dicom-nodes/", {"ae_title": "CT1"}, format="json")

    assert response.status_code == 404
    assert not DicomNode.objects.exists()


@pytest.mark.django_db
def test_dicom_node_deactivate_api__deactivates(hospital_a, make_user, api_client_for):
    client = api_client_for(make_user(hospital=hospital_a, role=Role.ADMIN))
    created = client.post(f"/api/hospitals/{hospital_a.uuid}/dicom-nodes/", {"ae_title": "CT1"}, format="json").json()

    response = client.delete(f"/api/hospitals/{hospital_a.uuid}/dicom-nodes/{created['uuid']}/")

    assert response.status_code == 200
    assert response.json()["is_active"] is False
