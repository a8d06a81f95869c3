"""The upload page in Debian chromium: choose files, upload in batches, read per-file results."""
import pytest

from tests.corpus.make_bad_inputs import bad_inputs
from triage.accounts.models import Role
from triage.studies import views
from triage.studies.models import Instance, Study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_page__uploads_in_batches_and_lists_each_file(page, log_in, live_server, hospital_a, make_user,
                                                            phantom_series, study_storage, tmp_path, monkeypatch):
    monkeypatch.setattr(views, "UPLOAD_BATCH_FILES", 5)  # 13 files -> 3 batches
    user = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    bad = tmp_path / "mr.dcm"
    bad.write_bytes(bad_inputs()["mr_modality.dcm"])
    log_in(user)
    page.goto(f"{live_server.url}/studies/upload/")
    page.get_by_label("Choose files…").set_input_files([str(p) for p in phantom_series(slices=12)] + [str(bad)])
    page.get_by_role("button", name="Upload").click()
    page.wait_for_function("document.getElementById('upload-status').textContent === 'Done'")
    assert page.inner_text("#upload-summary") == "12 accepted, 0 duplicate, 1 rejected; 1 study."
    row = page.locator("#upload-results tbody tr", has_text="mr.dcm")
    assert "Modality (0008,0060) is MR; only CT is accepted." in row.inner_text()
    assert page.eval_on_selector("#upload-progress", "el => el.value") == 100
    assert Instance.objects.count() == 12

    # Each study links to its viewer and report and shows its analysis state live.
    study = Study.objects.get()
    item = page.locator(f"#upload-studies li[data-study='{study.uuid}']")
    assert item.locator("a", has_text="Study").get_attribute("href") == f"/studies/{study.uuid}/view/"
    assert item.locator("a", has_text="Report").get_attribute("href") == f"/studies/{study.uuid}/report/"
    page.wait_for_function(f"document.querySelector(\"li[data-study='{study.uuid}']\").dataset.status")
    Study.objects.filter(pk=study.pk).update(status=Study.Status.READY)
    page.wait_for_function(f"document.querySelector(\"li[data-study='{study.uuid}'] .study-state\").textContent === 'Ready'")
    assert row.locator("a").count() == 0 and page.locator("#upload-results a", has_text="Open study").count() == 12


def test_upload_page__asks_before_leaving_mid_upload(page, log_in, live_server, hospital_a, make_user, phantom_series):
    log_in(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))
    page.goto(f"{live_server.url}/studies/upload/")
    page.route("**/api/studies/", lambda route: None)  # the upload never finishes
    page.get_by_label("Choose files…").set_input_files([str(p) for p in phantom_series(slices=8)])
    page.get_by_role("button", name="Upload").click()
    page.wait_for_function("document.getElementById('upload-submit').disabled")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.close(run_before_unload=True)
    page.wait_for_timeout(300)
    assert dialogs == ["beforeunload"]


def test_upload_page__says_a_received_study_waits_for_the_stable_age(page, log_in, live_server, hospital_a, make_user,
                                                                     phantom_series, study_storage, settings):
    settings.STUDY_STABLE_AGE_S = 20
    log_in(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))
    page.goto(f"{live_server.url}/studies/upload/")
    page.get_by_label("Choose files…").set_input_files([str(p) for p in phantom_series(slices=8)])
    page.get_by_role("button", name="Upload").click()
    page.wait_for_function("document.getElementById('upload-status').textContent === 'Done'")
    study = Study.objects.get()
    state = page.locator(f"#upload-studies li[data-study='{study.uuid}'] .study-state")
    state.filter(has_text="Received; analysis starts 20 s after the last image").wait_for()
    assert Study.objects.get().status == Study.Status.RECEIVED
