"""A hospital admin sets up result exports in a real browser: destinations, C-ECHO, send-on, log, re-send."""
import pytest
from django.utils import timezone

from tests.unit.worklist.factories import make_study
from tests.verification_scp import verification_scp
from triage.accounts.models import Role
from triage.exports.models import Destination, ExportJob, ExportSettings
from triage.gateway.models import DicomNode

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SECRET = "pacs-Passw0rd-never-shown"


def test_exports_admin__destinations_echo_send_on_log_and_resend(page, live_server, log_in, hospital_a, make_user,
                                                                 screenshot):
    admin = make_user(hospital=hospital_a, role=Role.ADMIN, username="admin-a")
    log_in(admin)
    page.click("header nav >> text=Administration")
    page.click("text=Result exports")
    page.wait_for_url(f"**/administration/hospitals/{hospital_a.uuid}/exports/")
    assert "No destinations yet" in page.inner_text("#destinations")

    with verification_scp("HOSP_PACS") as (port, seen):
        page.fill("#dest-name", "Main PACS")
        page.select_option("#dest-kind", "cstore")
        page.fill("#dest-ae", "HOSP_PACS")
        page.fill("#dest-host", "127.0.0.1")
        page.fill("#dest-port", str(port))
        page.click("#destination-form button")
        assert "Destination Main PACS added." in page.inner_text("main .notice")
        page.click("tr[data-name='Main PACS'] button:has-text('Test connection')")
        assert f"C-ECHO to HOSP_PACS@127.0.0.1:{port} succeeded." in page.inner_text("main .notice")
        assert seen == ["CTTRIAGE"]
    page.click("tr[data-name='Main PACS'] button:has-text('Test connection')")  # the peer is gone now
    assert "No DICOM answer from HOSP_PACS@127.0.0.1" in page.inner_text("main .notice.error")

    page.fill("#dest-name", "Web PACS")
    page.select_option("#dest-kind", "stow")
    page.fill("#dest-url", "https://pacs.example/dicom-web")
    page.fill("#dest-username", "triage")
    page.fill("#dest-password", SECRET)
    page.click("#destination-form button")
    assert "(password set)" in page.inner_text("tr[data-name='Web PACS']")
    assert SECRET not in page.content()

    row = page.locator("tr[data-name='Web PACS']")
    row.locator("summary").click()
    row.locator("input[name=url]").fill("https://pacs2.example/dicom-web")
    row.locator("button:has-text('Save')").click()
    web = Destination.objects.get(name="Web PACS")
    assert web.url == "https://pacs2.example/dicom-web" and web.password_encrypted  # kept: the field was empty
    assert SECRET not in page.content()

    page.check("#send-on-form input[value=ai_ready]")
    page.click("#send-on-form button")
    assert ExportSettings.objects.get(hospital=hospital_a).send_on == "ai_ready"
    assert page.is_checked("#send-on-form input[value=ai_ready]")

    study = make_study(hospital=hospital_a, received_at=timezone.now(), accession="ACC-9001")
    job = ExportJob.objects.create(destination=web, study=study, revision=0, status=ExportJob.Status.FAILED,
                                   attempts=5, last_error="The STOW-RS server answered HTTP 503.")
    page.reload()
    page.click("#export-log a:has-text('ACC-9001')")  # the log of that one study
    assert "HTTP 503" in page.inner_text(f"tr[data-job='{job.uuid}']")
    screenshot("exports-admin")
    page.click(f"tr[data-job='{job.uuid}'] button:has-text('Re-send')")
    assert "Re-sending to Web PACS." in page.inner_text("main .notice")
    job.refresh_from_db()
    assert (job.status, job.attempts, job.last_error) == (ExportJob.Status.PENDING, 0, "")  # no worker runs here

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("tr[data-name='Main PACS'] button:has-text('Delete')")
    assert "Destination Main PACS deleted." in page.inner_text("main .notice")
    assert list(Destination.objects.values_list("name", flat=True)) == ["Web PACS"]


def test_dicom_nodes__test_connection_of_a_sending_node(page, live_server, log_in, hospital_a, make_user):
    admin = make_user(hospital=hospital_a, role=Role.ADMIN, username="admin-a")
    log_in(admin)
    page.goto(f"{live_server.url}/administration/hospitals/{hospital_a.uuid}/dicom-nodes/")
    with verification_scp("CT_NORTH") as (port, seen):
        page.fill("#node-ae", "CT_NORTH")
        page.fill("#node-host", "127.0.0.1")
        page.fill("#node-port", str(port))
        page.click("#node-form button")
        page.click("tr[data-ae=CT_NORTH] button:has-text('Test connection')")
        assert f"C-ECHO to CT_NORTH@127.0.0.1:{port} succeeded." in page.inner_text("main .notice")
    assert seen == ["CTTRIAGE"] and DicomNode.objects.get().port == port
