import pytest

from triage.accounts.models import Role
from triage.audit.models import AuditEvent
from triage.results.models import ModelVersion


@pytest.mark.django_db
def test_model_version_activate_api__platform_admin_activates_the_shipped_model(make_user, api_client_for):
    from inference.registry import active_model_name

    client = api_client_for(make_user(is_platform_admin=True))
    response = client.post("/api/models/activate/", {"reference": active_model_name()}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["reference"] == active_model_name() and response.json()["is_active"]
    assert ModelVersion.objects.get(is_active=True).reference == active_model_name()
    assert AuditEvent.objects.filter(action="model.activated").exists()
    assert [row["reference"] for row in client.get("/api/models/").json()] == [active_model_name()]


@pytest.mark.django_db
def test_model_version_activate_api__unknown_version_is_404(make_user, api_client_for):
    client = api_client_for(make_user(is_platform_admin=True))
    response = client.post("/api/models/activate/", {"reference": "nope/0"}, format="json")
    assert response.status_code == 404
    assert response.json()["message"] == "No such model version in inference/weights."


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.ADMIN, Role.RADIOLOGIST])
def test_model_version_apis__hospital_users_are_refused(role, hospital_a, make_user, api_client_for):
    client = api_client_for(make_user(hospital=hospital_a, role=role))
    assert client.get("/api/models/").status_code == 403
    assert client.post("/api/models/activate/", {"reference": "a/b"}, format="json").status_code == 403
