"""A hospital administrator's hour in a real browser: users and roles, settings, tokens, the audit log."""
import csv
import io

import pytest
from django.utils import timezone

from tests.browser.conftest import sign_in
from tests.unit.worklist.factories import make_study
from triage.accounts.models import ApiToken, Membership, Role, User
from triage.audit.models import AuditEvent
from triage.gateway.models import DicomNode

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_hospital_admin__creates_grants_revokes_deactivates_and_sets_the_wait_cap(page, live_server, log_in,
                                                                                   hospital_a, hospital_b, make_user,
                                                                                   screenshot):
    admin = make_user(hospital=hospital_a, role=Role.ADMIN, username="admin-a")
    colleague = make_user(hospital=hospital_b, role=Role.CLINICIAN, username="colleague")
    log_in(admin)
    page.click("header nav >> text=Administration")  # one hospital: straight to its page
    page.wait_for_url(f"**/administration/hospitals/{hospital_a.uuid}/")

    page.fill("#new-username", "newreader")
    page.select_option("#new-role", "radiologist")
    page.fill("#new-password", "a-long-Initial-passw0rd")
    page.click("#create-user-form button")
    assert "Created newreader." in page.inner_text("main .notice")
    assert "Radiologist" in page.inner_text("tr[data-username=newreader]")

    page.fill("#grant-username", "COLLEAGUE")  # any case
    page.select_option("#grant-role", "clinician")
    page.click("#grant-form button")
    assert Membership.objects.filter(user=colleague, hospital=hospital_a, role=Role.CLINICIAN).exists()
    page.fill("#grant-username", "nobody")
    page.click("#grant-form button")
    assert "No user with this username." in page.inner_text("main .notice.error")

    page.click("tr[data-username=colleague] button:has-text('Revoke')")
    assert not Membership.objects.filter(user=colleague, hospital=hospital_a).exists()
    assert page.locator("tr[data-username=colleague]").count() == 0

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("tr[data-username=newreader] button:has-text('Deactivate')")
    assert "Deactivated" in page.inner_text("tr[data-username=newreader]")
    assert not User.objects.get(username="newreader").is_active

    page.fill("#wait-cap", "45")
    page.click("#wait-cap-form button")
    hospital_a.refresh_from_db()
    assert hospital_a.max_wait_minutes == 45
    screenshot("administration-users")

    actions = set(AuditEvent.objects.filter(actor=admin).values_list("action", flat=True))
    assert {"user.created", "membership.granted", "membership.revoked", "user.deactivated",
            "hospital.updated"} <= actions
    response = page.goto(f"{live_server.url}/administration/hospitals/{hospital_b.uuid}/")
    assert response.status == 404  # another hospital's page is the same 404 as a made-up id


def test_tokens__key_shown_once_then_revoked(page, live_server, log_in, hospital_a, make_user):
    log_in(make_user(hospital=hospital_a, role=Role.ADMIN))
    page.goto(f"{live_server.url}/administration/tokens/")
    page.fill("#token-name", "PACS router")
    page.select_option("#token-hospital", label="Hospital A")
    page.click("#token-form button")
    key = page.inner_text("#new-key")
    token = ApiToken.objects.get(name="PACS router")
    assert key.startswith(token.key_prefix) and len(key) > 30 and token.hospital == hospital_a
    page.goto(f"{live_server.url}/administration/tokens/")
    assert page.locator("#new-key").count() == 0 and key not in page.content()
    page.click("tr[data-token='PACS router'] button:has-text('Revoke')")
    assert "Revoked" in page.inner_text("tr[data-token='PACS router']")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_audit_log__filters_by_who_action_object_and_date_and_exports_csv(page, live_server, log_in, hospital_a,
                                                                          hospital_b, make_user):
    admin = make_user(hospital=hospital_a, role=Role.ADMIN)
    reader = make_user(hospital=hospital_a, role=Role.RADIOLOGIST, username="reader-x")
    study = make_study(hospital=hospital_a, received_at=timezone.now(), probability=0.4)
    make_study(hospital=hospital_b, received_at=timezone.now(), probability=0.4)
    log_in(reader)
    page.goto(f"{live_server.url}/studies/{study.uuid}/report/")  # audited read: study.viewed
    page.context.clear_cookies()
    log_in(admin)
    page.goto(f"{live_server.url}/administration/hospitals/{hospital_a.uuid}/audit/")
    page.fill("#id_actor", "READER")
    page.fill("#id_action", "study.")
    page.fill("#id_study", str(study.uuid))
    today = timezone.localdate().isoformat()
    page.fill("#id_since", today)
    page.fill("#id_until", today)
    page.click("form.audit-filters button")
    rows = page.locator("#audit-rows tbody tr").all_inner_texts()
    assert rows and all("reader-x" in r and "study.viewed" in r for r in rows)

    with page.expect_download() as download:
        page.click("#audit-csv")
    lines = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert lines and {line["action"] for line in lines} == {"study.viewed"}
    assert {line["object_id"] for line in lines} == {str(study.uuid)}

    page.fill("#id_since", today)
    page.fill("#id_until", "2000-01-01")
    page.click("form.audit-filters button")
    assert "must not be after" in page.inner_text("form.audit-filters .error")


def test_dicom_nodes__admin_adds_and_deactivates_a_sender(page, live_server, log_in, hospital_a, make_user):
    log_in(make_user(hospital=hospital_a, role=Role.ADMIN))
    page.goto(f"{live_server.url}/administration/hospitals/{hospital_a.uuid}/")
    page.click("text=DICOM nodes")
    page.fill("#node-ae", "CT_NORTH_1")
    page.click("#node-form button")
    assert "Accepting" in page.inner_text("tr[data-ae=CT_NORTH_1]")
    page.fill("#node-ae", "CT_NORTH_1")
    page.click("#node-form button")
    assert page.locator("main .notice.error").count() == 1  # the title is taken: a named error, nothing lost
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("tr[data-ae=CT_NORTH_1] button:has-text('Deactivate')")
    assert "Deactivated" in page.inner_text("tr[data-ae=CT_NORTH_1]")
    assert not DicomNode.objects.get(ae_title="CT_NORTH_1").is_active


def test_invite__admin_invites_by_email_and_the_new_user_sets_a_password_and_signs_in(page, browser, live_server,
                                                                                     log_in, hospital_a, make_user):
    from django.core import mail

    log_in(make_user(hospital=hospital_a, role=Role.ADMIN))
    page.goto(f"{live_server.url}/administration/hospitals/{hospital_a.uuid}/")
    page.fill("#invite-username", "dr.invited")
    page.fill("#invite-email", "dr.invited@example.org")
    page.select_option("#invite-role", "clinician")
    page.click("#invite-form button")
    assert "Invited dr.invited" in page.inner_text("main .notice")
    assert "Invited, no password yet" in page.inner_text("tr[data-username='dr.invited']")
    [message] = mail.outbox
    link = next(word for word in message.body.split() if "/set-password/" in word)
    assert link.startswith(live_server.url)

    invited = browser.new_context(viewport={"width": 1024, "height": 800}).new_page()
    invited.goto(link)
    invited.fill("#id_new_password1", "a-long-Chosen-passw0rd")
    invited.fill("#id_new_password2", "a-long-Chosen-passw0rd")
    invited.click("button[type=submit]")
    assert "Your password is set" in invited.inner_text("main")
    sign_in(invited, live_server.url, "dr.invited", "a-long-Chosen-passw0rd")
    assert "/login/" not in invited.url
    invited.goto(link)
    assert "expired or was used already" in invited.inner_text("main")
    invited.context.close()
    page.reload()
    assert "Active" in page.inner_text("tr[data-username='dr.invited']")
