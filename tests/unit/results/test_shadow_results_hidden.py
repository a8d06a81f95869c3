"""A candidate's shadow result is stored but never shown: worklist, report, FHIR, research export, DICOM export."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.unit.monitoring.factories import SHIPPED_3D, hidden_result
from tests.unit.worklist.factories import make_study
from triage.results.selectors import current_result_for
from triage.results.services import mark_candidate
from triage.worklist.services import refresh_worklist_entry, stale_worklist_studies

pytestmark = pytest.mark.django_db
SHOWN, HIDDEN = 0.91, 0.0123


@pytest.fixture
def study(hospital_a, platform_admin):
    study = make_study(hospital=hospital_a, received_at=timezone.now() - timedelta(minutes=5), probability=SHOWN,
                       accession="ACC-SHADOW")
    candidate = mark_candidate(actor=platform_admin, reference=SHIPPED_3D, hospital=hospital_a)
    hidden_result(study, candidate.model_version, HIDDEN)
    refresh_worklist_entry(study=study)
    return study


def test_shadow_result__not_current_and_not_a_reason_to_rewrite_the_worklist_row(study):
    assert current_result_for(study=study).covid_probability == SHOWN
    assert study not in stale_worklist_studies()


def test_shadow_result__worklist_report_fhir_and_research_export_show_the_shown_model(study, radiologist, admin_a,
                                                                                   api_client_for, client):
    rows = api_client_for(radiologist).get("/api/worklist/").json()["results"]
    assert [(r["study"]["accession_number"], r["covid_probability"]) for r in rows] == [("ACC-SHADOW", SHOWN)]
    client.force_login(radiologist)
    report = client.get(f"/studies/{study.uuid}/report/")
    html = report.content.decode()
    assert report.status_code == 200 and "covidnet-ct-s" in html and "covidnet3d" not in html  # names the shown model
    for url in (f"/api/studies/{study.uuid}/fhir/", f"/api/monitoring/hospitals/{study.hospital.uuid}/research-export/"):
        response = api_client_for(admin_a).get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert "covidnet-ct-s" in body and "covidnet3d" not in body and str(HIDDEN) not in body, url
