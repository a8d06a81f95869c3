import pytest

from triage.audit.models import AuditEvent
from triage.decisions.models import PcrOutcome

pytestmark = pytest.mark.django_db


def test_study_decision_list_api__records_and_lists_newest_first(ready_study, clinician, api_client_for):
    client = api_client_for(clinician)
    url = f"/api/studies/{ready_study.uuid}/decisions/"
    assert client.post(url, {"kind": "care_medication"}, format="json").status_code == 201
    response = client.post(url, {"kind": "quarantine", "reason": "awaiting bed"}, format="json")
    assert response.status_code == 201 and response.json()["suggested_kind"] == "care_medication"
    listed = client.get(url).json()
    assert [d["kind"] for d in listed] == ["quarantine", "care_medication"]


def test_study_decision_list_api__unknown_kind_is_400(ready_study, clinician, api_client_for):
    response = api_client_for(clinician).post(f"/api/studies/{ready_study.uuid}/decisions/", {"kind": "admit"},
                                              format="json")
    assert response.status_code == 400 and "kind" in response.json()["extra"]["fields"]


def test_study_pcr_outcome_list_api__records_conflicts_and_corrects(ready_study, clinician, api_client_for):
    client = api_client_for(clinician)
    url = f"/api/studies/{ready_study.uuid}/pcr-outcomes/"
    first = client.post(url, {"result": "positive", "sample_taken_on": "2026-01-05"}, format="json")
    assert first.status_code == 201 and first.json()["source"] == "api"
    conflict = client.post(url, {"result": "negative", "sample_taken_on": "2026-01-05"}, format="json")
    assert conflict.status_code == 409 and "correction with a reason" in conflict.json()["message"]
    corrected = client.post(url, {"result": "negative", "sample_taken_on": "2026-01-05",
                                  "correction_reason": "wrong patient"}, format="json")
    assert corrected.status_code == 201 and corrected.json()["supersedes"] == first.json()["uuid"]
    assert [o["is_current"] for o in client.get(url).json()] == [True, False]


def test_study_pcr_outcome_list_api__csv_source_is_not_accepted_from_clients(ready_study, clinician, api_client_for):
    response = api_client_for(clinician).post(f"/api/studies/{ready_study.uuid}/pcr-outcomes/", {
        "result": "positive", "sample_taken_on": "2026-01-05", "source": "csv"}, format="json")
    assert response.status_code == 400 and not PcrOutcome.objects.exists()


def test_hospital_decision_rule_api__defaults_then_admin_put_is_audited(hospital_a, admin_a, clinician,
                                                                        api_client_for):
    url = f"/api/hospitals/{hospital_a.uuid}/decision-rules/"
    body = api_client_for(clinician).get(url).json()
    assert (body["is_default"], body["care_probability_threshold"]) == (True, 0.8)
    values = {"care_probability_threshold": 0.85, "test_probability_threshold": 0.3, "care_severity_threshold": 8,
              "critical_severity_threshold": 18}
    response = api_client_for(admin_a).put(url, values, format="json")
    assert response.status_code == 200 and response.json()["is_default"] is False
    assert AuditEvent.objects.get(action="decision_rule.updated").extra == {
        "care_probability_threshold": {"old": 0.8, "new": 0.85}}


def test_hospital_decision_rule_api__clinician_put_is_403(hospital_a, clinician, api_client_for):
    response = api_client_for(clinician).put(f"/api/hospitals/{hospital_a.uuid}/decision-rules/", {
        "care_probability_threshold": 0.85, "test_probability_threshold": 0.3, "care_severity_threshold": 8,
        "critical_severity_threshold": 18}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize("method, path", [("get", "decisions/"), ("post", "decisions/"), ("get", "pcr-outcomes/"),
                                          ("post", "pcr-outcomes/")])
def test_study_decision_apis__foreign_study_is_404(foreign_study, clinician, api_client_for, method, path):
    response = getattr(api_client_for(clinician), method)(f"/api/studies/{foreign_study.uuid}/{path}", {
        "kind": "quarantine", "result": "positive", "sample_taken_on": "2026-01-05"}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize("method", ["get", "put"])
def test_hospital_decision_rule_api__foreign_hospital_is_404(hospital_b, make_user, hospital_a, api_client_for,
                                                             method):
    admin_a = make_user(hospital=hospital_a, role="admin")
    response = getattr(api_client_for(admin_a), method)(f"/api/hospitals/{hospital_b.uuid}/decision-rules/", {},
                                                        format="json")
    assert response.status_code == 404
