import pytest

from triage.accounts.models import Role

pytestmark = pytest.mark.django_db


def test_upload_page__lists_only_the_users_hospitals(client, hospital_a, hospital_b, make_user):
    user = make_user(hospital=hospital_a, role=Role.CLINICIAN)
    client.force_login(user)
    html = client.get("/studies/upload/").content.decode()
    assert str(hospital_a.uuid) in html and str(hospital_b.uuid) not in html
    assert 'for="upload-files"' in html and "webkitdirectory" in html and "js/upload.js" in html


def test_upload_page__requires_login(client):
    response = client.get("/studies/upload/")
    assert response.status_code == 302 and "/login/" in response["Location"]
