import pytest

from tests.unit.reports.factories import make_study
from triage.audit.models import AuditEvent
from triage.reports.services import sign_report
from triage.studies.models import Study

pytestmark = pytest.mark.django_db


def page(client, user, study):
    client.force_login(user)
    return client.get(f"/studies/{study.uuid}/report/")


def test_study_report_page__shows_numbers_overlays_and_unreviewed_state(client, clinician, ready_study):
    response = page(client, clinician, ready_study)
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("0.91", "covidnet-ct-s", "1.0.0", "12.5 %", "2.3 %", "7.2 %", "-612 HU", "143 HU",
                 "Not yet reviewed by a radiologist.", "decision support, not a diagnosis",
                 "Suggested because probability 0.91 ≥ 0.80.", "<rect", "Left upper", "sensitivity 0.900"):
        assert text in html, text
    assert f"/api/studies/{ready_study.uuid}/overlays/12/gradcam.png" in html
    assert f'<div class="key-image"><img src="/api/studies/{ready_study.uuid}/slices/12.png"' in html  # CT under it
    assert "where the model looked" in html  # a Grad-CAM overlay is shown, so is its key
    assert 'data-api-form action="/api/studies/{}/decisions/"'.format(ready_study.uuid) in html
    assert f"/report/sign/" not in html  # clinicians do not sign
    assert AuditEvent.objects.filter(action="study.viewed", actor=clinician).count() == 1


def test_study_report_page__shows_sign_off_and_radiologist_gets_addendum_form(client, radiologist, ready_study):
    sign_report(study=ready_study, actor=radiologist, label="covid", comment="Bilateral GGO", expected_version=0)
    html = page(client, radiologist, ready_study).content.decode()
    assert "Confirmed the AI label" in html and "Bilateral GGO" in html
    assert "Not yet reviewed" not in html
    assert f"/api/studies/{ready_study.uuid}/report/addenda/" in html and 'value="1"' in html


def test_study_report_page__foreign_study_is_404(client, clinician, foreign_study):
    assert page(client, clinician, foreign_study).status_code == 404


def test_study_report_page__anonymous_is_redirected_to_login(client, ready_study):
    response = client.get(f"/studies/{ready_study.uuid}/report/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_study_report_page__study_without_result_says_so_and_offers_no_signing(client, radiologist, hospital_a):
    study = make_study(hospital=hospital_a, status=Study.Status.PROCESSING)
    html = page(client, radiologist, study).content.decode()
    assert "No AI result yet (study status: processing)." in html
    assert "Signing opens when the AI analysis of this study is ready." in html
    assert "/report/sign/" not in html and "No suggestion: this study has no AI result." in html


def test_study_report_page__and_viewer_number_the_key_slice_alike(client, radiologist, hospital_a):
    import json
    import re

    from tests.unit.reports.factories import make_ready_study

    study = make_ready_study(hospital=hospital_a)  # key slice and overlays at index 12
    client.force_login(radiologist)
    report = client.get(f"/studies/{study.uuid}/report/").content.decode()
    viewer = client.get(f"/studies/{study.uuid}/view/").content.decode()
    config = json.loads(re.search(r'<script id="viewer-config"[^>]*>(.*?)</script>', viewer, re.S).group(1))
    assert config["keySlices"] == [{"index": 12, "number": 13}]
    assert "Slice 13 ·" in report and "Slice 12 ·" not in report
    assert f"/overlays/12/gradcam.png" in report  # URLs keep the 0-based index


def test_study_report_page__not_applicable_result_says_why_and_shows_no_probability(client, clinician, ready_study):
    from triage.results.models import Result

    Result.objects.filter(study=ready_study).update(applicable=False, not_applicable_reasons=["not an axial series (slice normal |z| = 0.00)"])
    html = page(client, clinician, ready_study).content.decode()
    assert "AI not applicable" in html and "not an axial series (slice normal |z| = 0.00)" in html
    assert "data-probability" not in html


def test_study_report_page__not_applicable_result_suggests_no_decision(client, clinician, ready_study):
    from triage.results.models import Result

    Result.objects.filter(study=ready_study).update(applicable=False, not_applicable_reasons=["synthetic phantom"])
    assert "Suggested because probability" not in page(client, clinician, ready_study).content.decode()
