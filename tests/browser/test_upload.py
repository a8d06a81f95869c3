"""The upload page in Debian chromium: choose files, upload in batches, read per-file results."""
import os
from pathlib import Path

import pytest

from tests.conftest import TEST_PASSWORD
from tests.corpus.make_bad_inputs import bad_inputs
from triage.accounts.models import Role
from triage.studies import views
from triage.studies.models import Instance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def chromium_page():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        page.set_default_timeout(20_000)
        yield page
        browser.close()


def test_upload_page__uploads_in_batches_and_lists_each_file(chromium_page, live_server, hospital_a, make_user,
                                                            phantom_series, study_storage, tmp_path, monkeypatch):
    monkeypatch.setattr(views, "UPLOAD_BATCH_FILES", 5)  # 13 files -> 3 batches
    user = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    bad = tmp_path / "mr.dcm"
    bad.write_bytes(bad_inputs()["mr_modality.dcm"])
    page = chromium_page
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    page.goto(f"{live_server.url}/studies/upload/")
    page.get_by_label("Choose files…").set_input_files([str(p) for p in phantom_series(slices=12)] + [str(bad)])
    page.get_by_role("button", name="Upload").click()
    page.wait_for_function("document.getElementById('upload-status').textContent === 'Done'")
    assert page.inner_text("#upload-summary") == "12 accepted, 0 duplicate, 1 rejected; 1 study."
    row = page.locator("#upload-results tbody tr", has_text="mr.dcm")
    assert "Modality (0008,0060) is MR; only CT is accepted." in row.inner_text()
    assert page.eval_on_selector("#upload-progress", "el => el.value") == 100
    assert Instance.objects.count() == 12
