"""Radiologist journey in a real browser: worklist order (incl. the wait cap), viewer, overlays, signing."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.unit.worklist.factories import add_overlay, add_result, make_study, store_series
from triage.accounts.models import Role
from triage.studies.models import Study
from triage.worklist import views
from triage.worklist.services import refresh_worklist_entry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SLICES, SIZE = 12, 64


@pytest.fixture
def ward(hospital_a, make_user, study_storage, phantom_series):
    """Hospital A: a viewable high-probability study, an overdue low one, a fresh low one, one processing."""
    now = timezone.now()
    high = make_study(hospital=hospital_a, received_at=now - timedelta(minutes=10), accession="ACC-HIGH")
    store_series(study=high, files=[p.read_bytes() for p in phantom_series(slices=SLICES, size_px=SIZE,
                                                                          severity="moderate")])
    result = add_result(study=high, probability=0.93, lesion_fraction=0.18, severity=11,
                        slice_probabilities=[0.1 + 0.07 * i for i in range(SLICES)], key_slices=[5, 6])
    add_overlay(result=result, slice_index=5, size_px=SIZE)
    add_overlay(result=result, slice_index=5, size_px=SIZE, kind="lesion")
    refresh_worklist_entry(study=high)
    make_study(hospital=hospital_a, received_at=now - timedelta(minutes=95), probability=0.04,
               label="normal", accession="ACC-OVERDUE")
    make_study(hospital=hospital_a, received_at=now - timedelta(minutes=5), probability=0.3,
               label="pneumonia", accession="ACC-LOW")
    make_study(hospital=hospital_a, received_at=now - timedelta(minutes=2), status=Study.Status.PROCESSING,
               accession="ACC-PROCESSING")
    return {"high": high, "radiologist": make_user(hospital=hospital_a, role=Role.RADIOLOGIST)}


def accessions(page) -> list[str]:
    return page.locator("#worklist-rows a.open-study").all_inner_texts()


def test_worklist_journey__order_viewer_scrolling_and_overlay(page, live_server, log_in, ward, screenshot):
    log_in(ward["radiologist"])
    page.goto(f"{live_server.url}/worklist/")
    assert accessions(page) == ["ACC-OVERDUE", "ACC-HIGH", "ACC-LOW", "ACC-PROCESSING"]
    assert page.locator("#worklist-rows tr").first.locator(".badge-overdue").is_visible()
    screenshot("worklist")

    page.keyboard.press("j")  # first row is selected on load; j moves to ACC-HIGH
    assert page.locator("#worklist-rows tr.selected a.open-study").inner_text() == "ACC-HIGH"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/studies/{ward['high'].uuid}/view/")

    image = page.locator("#slice-image")
    page.wait_for_function("document.getElementById('slice-image').naturalWidth > 0")
    assert image.get_attribute("data-index") == "5"  # opens on the first key slice
    page.locator("#stage").focus()
    page.keyboard.press("ArrowDown")
    assert image.get_attribute("data-index") == "6"
    page.locator("#stage").hover()
    page.mouse.wheel(0, 120)
    page.wait_for_function("document.getElementById('slice-image').dataset.index === '7'")
    page.mouse.wheel(0, -120)
    page.keyboard.press("ArrowUp")
    page.wait_for_function("document.getElementById('slice-image').dataset.index === '5'")
    assert "wl=-600&ww=1500" in image.get_attribute("src")

    page.check("#toggle-gradcam")
    page.check("#toggle-lesion")
    page.wait_for_function("['heatmap-layer', 'lesion-layer'].every(id => document.getElementById(id).dataset.slice === '5')")
    assert page.locator("#heatmap-layer").is_visible() and page.locator("#lesion-layer").is_visible()
    page.click("text=Mediastinal (40/400)")
    assert "wl=40&ww=400" in image.get_attribute("src")
    page.click("text=Lung (−600/1500)")
    page.wait_for_function("document.getElementById('slice-image').complete")
    assert page.locator("#num-probability").inner_text() == "93.0 %"
    screenshot("viewer")

    page.keyboard.press("ArrowDown")  # slice 6 has no overlay: the layers hide
    assert page.locator("#heatmap-layer").is_hidden()

    page.click("text=Sign report")  # the reports app's review panel, included by the viewer
    page.wait_for_function("document.querySelector('[data-signoff]').textContent.includes('Signed by')")
    assert "covid19" in page.locator("[data-signoff]").inner_text()


def test_worklist_live_update__new_ready_study_appears_without_reload(page, live_server, log_in, ward, monkeypatch):
    monkeypatch.setattr(views, "POLL_INTERVAL_MS", 300)
    log_in(ward["radiologist"])
    page.goto(f"{live_server.url}/worklist/")
    processing = Study.objects.get(accession_number="ACC-PROCESSING")
    page.wait_for_function("document.getElementById('worklist').dataset.etag")  # first poll recorded the version
    Study.objects.filter(pk=processing.pk).update(status=Study.Status.READY)
    add_result(study=processing, probability=0.99)
    refresh_worklist_entry(study=processing)
    page.wait_for_function(
        "document.querySelectorAll('#worklist-rows a.open-study')[1].textContent === 'ACC-PROCESSING'")
    assert accessions(page)[:2] == ["ACC-OVERDUE", "ACC-PROCESSING"]


def test_study_viewer__other_hospitals_user_gets_404(page, live_server, log_in, ward, hospital_b, make_user):
    log_in(make_user(hospital=hospital_b, role=Role.RADIOLOGIST))
    response = page.goto(f"{live_server.url}/studies/{ward['high'].uuid}/view/")
    assert response.status == 404
    slice_response = page.request.get(f"{live_server.url}/api/studies/{ward['high'].uuid}/slices/0.png")
    assert slice_response.status == 404
