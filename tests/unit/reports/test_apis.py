import pytest
from django.db import DatabaseError, connection, transaction

from tests.unit.reports.factories import give_series
from triage.audit.models import AuditEvent
from triage.reports.models import Report

pytestmark = pytest.mark.django_db


def sign_url(study):
    return f"/api/studies/{study.uuid}/report/sign/"


def test_report_sign_api__signs_and_returns_201(ready_study, radiologist, api_client_for):
    response = api_client_for(radiologist).post(sign_url(ready_study), {"label": "pneumonia", "comment": "lobar",
                                                                        "expected_version": 0}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["version"], body["verdict"], body["signed_by"]) == (1, "overridden", radiologist.username)


def test_report_sign_api__second_signer_gets_409_in_the_error_shape(ready_study, radiologist, other_radiologist,
                                                                     api_client_for):
    api_client_for(radiologist).post(sign_url(ready_study), {"label": "covid", "expected_version": 0}, format="json")
    response = api_client_for(other_radiologist).post(sign_url(ready_study), {"label": "covid", "expected_version": 0},
                                                      format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["message"].startswith("Another radiologist signed this study at ")
    assert body["message"].endswith("; reload to see their report.")
    assert body["extra"]["current_version"] == 1


def test_report_sign_api__incomplete_series_is_400_naming_the_hole_until_confirmed(ready_study, radiologist,
                                                                                    api_client_for):
    give_series(ready_study, z_positions_mm=[0.0, 1.0, 2.0, 5.0, 6.0])
    client = api_client_for(radiologist)
    refused = client.post(sign_url(ready_study), {"label": "covid", "expected_version": 0}, format="json")
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("This series is incomplete (about 2 slices missing after slice 3)")
    assert refused.json()["extra"]["field"] == "confirmed_incomplete"
    signed = client.post(sign_url(ready_study), {"label": "covid", "expected_version": 0,
                                                 "confirmed_incomplete": True}, format="json")
    assert signed.status_code == 201, signed.json()


def test_report_sign_api__missing_expected_version_is_400(ready_study, radiologist, api_client_for):
    response = api_client_for(radiologist).post(sign_url(ready_study), {"label": "covid"}, format="json")
    assert response.status_code == 400 and "expected_version" in response.json()["extra"]["fields"]


def test_report_sign_api__clinician_gets_403(ready_study, clinician, api_client_for):
    response = api_client_for(clinician).post(sign_url(ready_study), {"label": "covid", "expected_version": 0},
                                              format="json")
    assert response.status_code == 403


def test_report_addendum_api__adds_version_2(ready_study, radiologist, api_client_for):
    client = api_client_for(radiologist)
    client.post(sign_url(ready_study), {"label": "covid", "expected_version": 0}, format="json")
    response = client.post(f"/api/studies/{ready_study.uuid}/report/addenda/",
                           {"comment": "PCR positive", "expected_version": 1}, format="json")
    assert response.status_code == 201 and response.json()["kind"] == "addendum"


def test_study_report_api__returns_history_and_audits_the_read(ready_study, radiologist, clinician, api_client_for):
    api_client_for(radiologist).post(sign_url(ready_study), {"label": "covid", "expected_version": 0}, format="json")
    response = api_client_for(clinician).get(f"/api/studies/{ready_study.uuid}/report/")
    assert response.status_code == 200
    body = response.json()
    assert (body["version"], body["is_reviewed"], body["result"]["model"]) == (1, True, "covidnet-ct-s")
    assert [r["version"] for r in body["reports"]] == [1]
    assert AuditEvent.objects.filter(action="study.viewed", actor=clinician, object_id=str(ready_study.uuid)).exists()


@pytest.mark.parametrize("method, suffix", [("get", ""), ("post", "sign/"), ("post", "addenda/")])
def test_report_apis__foreign_study_is_404(foreign_study, radiologist, api_client_for, method, suffix):
    response = getattr(api_client_for(radiologist), method)(f"/api/studies/{foreign_study.uuid}/report/{suffix}",
                                                            {"label": "covid", "comment": "x", "expected_version": 1},
                                                            format="json")
    assert response.status_code == 404 and response.json()["message"] == "Study not found."


def test_report_apis__anonymous_gets_401(ready_study, api_client_for):
    assert api_client_for().get(f"/api/studies/{ready_study.uuid}/report/").status_code == 401


def test_report__database_refuses_update_of_signed_report(ready_study, radiologist, api_client_for):
    if connection.vendor != "postgresql":
        pytest.skip("the immutability trigger exists on PostgreSQL only")
    api_client_for(radiologist).post(sign_url(ready_study), {"label": "covid", "expected_version": 0}, format="json")
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE reports_report SET comment = 'edited'")
    assert Report.objects.get().comment == ""
