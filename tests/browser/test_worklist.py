"""Radiologist journey in a real browser: worklist order (incl. the wait cap), viewer, overlays, signing."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.unit.worklist.factories import add_overlay, add_result, make_study, store_series
from triage.accounts.models import Role
from triage.results.models import Result
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

    def drawn(index: int, wl: int = -600, ww: int = 1500) -> None:
        page.wait_for_function(f"(d => d.index === '{index}' && d.wl === '{wl}' && d.ww === '{ww}')"
                               "(document.getElementById('slice-canvas').dataset)")

    drawn(6)  # head first: opens on the most superior key slice (key slices 6 and 7 in 1-based numbers)
    assert page.inner_text("#slice-label") == f"7 / {SLICES}"
    assert [page.inner_text(f"#orient-{side}") for side in ("left", "right", "top", "bottom")] == ["R", "L", "A", "P"]
    page.locator("#stage").focus()
    page.keyboard.press("ArrowDown")  # toward the feet
    drawn(5)
    page.locator("#stage").hover()
    page.mouse.wheel(0, 120)
    drawn(4)
    page.mouse.wheel(0, -120)
    drawn(5)

    page.check("#toggle-gradcam")
    page.check("#toggle-lesion")
    page.wait_for_function("['heatmap-layer', 'lesion-layer'].every(id => document.getElementById(id).dataset.slice === '5')")
    assert page.locator("#heatmap-layer").is_visible() and page.locator("#lesion-layer").is_visible()
    page.click("text=Mediastinal (40/400)")
    drawn(5, 40, 400)
    # The browser's windowing of the 16-bit slice equals the server's PNG of the same slice and window.
    assert page.evaluate("""async () => {
        const png = new Image();
        png.src = '/api/studies/' + location.pathname.split('/')[2] + '/slices/5.png?wl=40&ww=400';
        await png.decode();
        const scratch = document.createElement('canvas');
        scratch.width = png.naturalWidth; scratch.height = png.naturalHeight;
        scratch.getContext('2d').drawImage(png, 0, 0);
        const a = scratch.getContext('2d').getImageData(0, 0, scratch.width, scratch.height).data;
        const shown = document.getElementById('slice-canvas');
        const b = shown.getContext('2d').getImageData(0, 0, shown.width, shown.height).data;
        return a.length === b.length && a.every((v, i) => v === b[i]);
    }""")
    page.click("text=Lung (−600/1500)")
    drawn(5)
    assert page.locator("#num-probability").inner_text() == "93.0 %"
    screenshot("viewer")

    page.keyboard.press("ArrowUp")  # slice index 6 has no overlay: the layers hide
    drawn(6)
    assert page.locator("#heatmap-layer").is_hidden()
    assert page.locator("#slice-image").is_hidden()

    page.select_option(f"#review-label-{ward['high'].uuid}", "normal")  # override the AI's covid19
    page.click("text=Sign report")  # the reports app's review panel, included by the viewer
    page.wait_for_function("document.querySelector('[data-signoff]').textContent.includes('Signed by')")
    assert "normal (AI: covid19" in page.locator("[data-signoff]").inner_text()
    overdue = Study.objects.get(accession_number="ACC-OVERDUE")
    assert page.inner_text("#next-study") == "Next study: ACC-OVERDUE →"  # the top of the unreviewed worklist
    page.click("#next-study")
    page.wait_for_url(f"**/studies/{overdue.uuid}/view/")

    page.goto(f"{live_server.url}/worklist/?reviewed=true")
    assert page.inner_text("#worklist-rows td.label") == "normal signed"  # the radiologist's label, not the AI's


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


PHANTOM_REASONS = ["synthetic phantom (Manufacturer 'CT Triage phantom'), not patient CT: the model is validated on "
                   "real scanner CT only", "image features unlike the training data (distance 2.11 > 1.37, the threshold "
                   "set on held-out volumes)"]


@pytest.mark.parametrize("width", [1024, 1280])
def test_layout__worklist_fits_with_a_long_not_applicable_reason_and_viewer_controls_are_above_the_fold(
        page, live_server, log_in, ward, hospital_a, width):
    outside = make_study(hospital=hospital_a, received_at=timezone.now() - timedelta(minutes=3), accession="ACC-PHANTOM")
    result = add_result(study=outside, probability=0.98, lesion_fraction=0.08, severity=9)
    Result.objects.filter(pk=result.pk).update(applicable=False, not_applicable_reasons=PHANTOM_REASONS)
    refresh_worklist_entry(study=outside)
    page.set_viewport_size({"width": width, "height": 768})
    log_in(ward["radiologist"])
    page.goto(f"{live_server.url}/worklist/")
    assert page.eval_on_selector(".table-wrap", "el => el.scrollWidth <= el.clientWidth")
    reason = page.locator("tr[data-study='%s'] .na-reason" % outside.uuid)
    assert reason.get_attribute("title") == "; ".join(PHANTOM_REASONS)  # the whole text on hover
    line_height = float(reason.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)"))
    assert reason.bounding_box()["height"] <= 2 * line_height + 1  # two lines in the row, not eleven
    page.goto(f"{live_server.url}/studies/{ward['high'].uuid}/view/")
    for control in ("#toggle-gradcam", "#toggle-lesion", "#overlay-opacity", "#window-level"):
        box = page.locator(control).bounding_box()
        assert box["y"] + box["height"] <= 768, control
    assert page.locator(".overlay-key .swatch").count() == 2  # a key for each lesion outline colour


def test_viewer_png_path__server_windows_each_slice(page, live_server, log_in, ward):
    log_in(ward["radiologist"])
    page.goto(f"{live_server.url}/studies/{ward['high'].uuid}/view/?render=png")
    page.wait_for_function("document.getElementById('slice-image').dataset.index === '6'")
    assert "/slices/6.png?wl=-600&ww=1500" in page.get_attribute("#slice-image", "src")
    page.keyboard.press("m")
    page.wait_for_function("document.getElementById('slice-image').dataset.wl === '40'")
    assert "/slices/6.png?wl=40&ww=400" in page.get_attribute("#slice-image", "src")
    assert page.locator("#slice-canvas").is_hidden()
