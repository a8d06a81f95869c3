"""Shadow mode pages: who sees what, the too-few warning, marking, ending and promotion with confirmation."""
import pytest

from tests.unit.monitoring.factories import SHIPPED_3D, hidden_result, make_case, shadow_candidate
from triage.audit.models import AuditEvent
from triage.results.models import Candidate, ModelVersion

pytestmark = pytest.mark.django_db


def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def candidate(platform_admin, hospital_a, admin_a):
    return shadow_candidate(actor=platform_admin, hospital=hospital_a, signer=admin_a)


def test_candidate_page__hospital_admin_reads_comparison_without_actions(candidate, admin_a, client):
    response = signed_in(client, admin_a).get(f"/monitoring/shadow/{candidate.uuid}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'n = <strong>4</strong> studies (2 positive, 2 negative)' in html and 'id="too-few"' in html
    assert "too few cases (n = 2)" in html and "<svg" in html and 'id="disagreements"' in html
    assert 'id="promote-form"' not in html
    assert AuditEvent.objects.filter(action="monitoring.candidate_compared", actor=admin_a).count() == 1


def test_candidate_page__other_hospitals_admin_and_radiologist_get_404(candidate, admin_b, radiologist, client):
    assert signed_in(client, admin_b).get(f"/monitoring/shadow/{candidate.uuid}/").status_code == 404
    assert signed_in(client, radiologist).get(f"/monitoring/shadow/{candidate.uuid}/").status_code == 404


def test_index_page__platform_admin_marks_a_candidate_for_every_hospital(platform_admin, client):
    client = signed_in(client, platform_admin)
    html = client.get("/monitoring/shadow/").content.decode()
    assert 'id="no-candidates"' in html and f'<option value="{SHIPPED_3D}">' in html
    response = client.post("/monitoring/shadow/mark/", {"reference": SHIPPED_3D, "hospital": ""})
    candidate = Candidate.objects.get()
    assert response.status_code == 302 and response.url == f"/monitoring/shadow/{candidate.uuid}/"
    assert candidate.hospital is None and AuditEvent.objects.filter(action="model.candidate_marked").exists()
    assert 'id="no-pairs"' in client.get(response.url).content.decode()


def test_index_page__hospital_admin_sees_no_mark_form_and_cannot_post_it(candidate, admin_a, client):
    client = signed_in(client, admin_a)
    html = client.get("/monitoring/shadow/").content.decode()
    assert SHIPPED_3D in html and 'id="mark-form"' not in html and "Stop shadow run" not in html
    assert client.post("/monitoring/shadow/mark/", {"reference": SHIPPED_3D}).status_code == 403
    assert client.post(f"/monitoring/shadow/{candidate.uuid}/end/").status_code == 403


def test_end_page__platform_admin_stops_the_shadow_run(candidate, platform_admin, client):
    assert signed_in(client, platform_admin).post(f"/monitoring/shadow/{candidate.uuid}/end/").status_code == 302
    assert Candidate.objects.get().ended_at is not None


def test_promote_page__needs_the_confirmation_and_then_promotes(candidate, platform_admin, client):
    client = signed_in(client, platform_admin)
    page = client.get(f"/monitoring/shadow/{candidate.uuid}/").content.decode()
    assert 'id="promote-form"' in page and 'name="reviewed_n" value="4"' in page
    url = f"/monitoring/shadow/{candidate.uuid}/promote/"
    client.post(url, {"reviewed_n": "4"})
    assert not ModelVersion.objects.get(name="covidnet3d-shallow").is_active
    stale = client.post(url, {"reviewed_n": "3", "confirm": "yes"}, follow=True).content.decode()
    assert "review it again before promoting" in stale and not ModelVersion.objects.get(name="covidnet3d-shallow").is_active
    assert client.post(url, {"reviewed_n": "4", "confirm": "yes"}).status_code == 302
    assert ModelVersion.objects.get(is_active=True).reference == SHIPPED_3D
    assert AuditEvent.objects.get(action="model.candidate_promoted").actor == platform_admin


def test_navigation__admins_get_the_shadow_models_entry_marked_current_on_its_pages(candidate, admin_a, clinician,
                                                                                   client):
    html = signed_in(client, admin_a).get("/monitoring/shadow/").content.decode()
    assert '<a href="/monitoring/shadow/" aria-current="page">Shadow models</a>' in html
    reports = signed_in(client, clinician).get("/reports/")
    assert reports.status_code == 200 and "Shadow models" not in reports.content.decode()


def test_candidate_page__all_hospital_candidacy_is_compared_on_the_admins_own_hospital(platform_admin, hospital_a,
                                                                                      hospital_b, admin_a, client):
    candidate = shadow_candidate(actor=platform_admin, hospital=hospital_a, signer=admin_a, candidate_hospital=None)
    hidden_result(make_case(hospital=hospital_b, probability=0.9, pcr="positive", signer=platform_admin),
                  candidate.model_version, 0.8)  # B's study: never in A's admin's view
    page = signed_in(client, admin_a).get(f"/monitoring/shadow/{candidate.uuid}/")
    html = page.content.decode()
    assert page.status_code == 200 and "All hospitals</option>" not in html
    assert f'<option value="{hospital_a.uuid}" selected>Hospital A</option>' in html and "n = <strong>4</strong>" in html
    assert 'id="promote-form"' not in html
    # asking for another hospital's view falls back to one this admin may see
    assert "n = <strong>4</strong>" in client.get(f"/monitoring/shadow/{candidate.uuid}/?hospital={hospital_b.uuid}").content.decode()
    pooled = signed_in(client, platform_admin).get(f"/monitoring/shadow/{candidate.uuid}/").content.decode()
    assert '<option value="" selected>All hospitals</option>' in pooled and "n = <strong>5</strong>" in pooled
    assert 'id="promote-form"' in pooled
