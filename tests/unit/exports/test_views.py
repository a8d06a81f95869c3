"""The result exports administration page: destinations, the send-on setting, the log and re-send."""
import pytest
from django.utils import timezone

from tests.integration.helpers import free_port
from tests.unit.worklist.factories import make_study
from triage.audit.models import AuditEvent
from triage.exports import secrets, services
from triage.exports.models import Destination, ExportJob, ExportSettings

pytestmark = pytest.mark.django_db
SECRET = "s3cr3t-never-shown"


@pytest.fixture
def page(client, admin_a, hospital_a):
    client.force_login(admin_a)
    return client, f"/administration/hospitals/{hospital_a.uuid}/exports/"


@pytest.fixture
def stow(admin_a, hospital_a):
    return services.create_destination(actor=admin_a, hospital=hospital_a, name="Web PACS", kind="stow",
                                       url="https://pacs.example/dicom-web", username="triage", password=SECRET)


def test_exports_page__creates_a_stow_destination_and_never_shows_its_password(page, hospital_a):
    client, url = page
    response = client.post(url, {"action": "create", "name": "Web PACS", "kind": "stow",
                                 "url": "https://pacs.example/dicom-web", "username": "triage", "password": SECRET},
                           follow=True)

    html = response.content.decode()
    assert "Destination Web PACS added." in html and "(password set)" in html
    assert SECRET not in html and Destination.objects.get(hospital=hospital_a).password_encrypted not in html


def test_exports_page__edit_with_an_empty_password_keeps_it_and_audits_the_changed_fields(page, stow):
    client, url = page
    client.post(url, {"action": "update", "destination": stow.uuid, "name": "Main PACS",
                      "url": "https://pacs2.example/dicom-web", "username": "triage", "password": "",
                      "is_active": "1"})

    stow.refresh_from_db()
    assert (stow.name, stow.url) == ("Main PACS", "https://pacs2.example/dicom-web")
    assert secrets.decrypt(stow.password_encrypted) == SECRET
    changes = AuditEvent.objects.get(action="export_destination.updated").extra["changes"]
    assert set(changes) == {"name", "url"}


def test_exports_page__cstore_form_needs_a_numeric_port(page, hospital_a):
    client, url = page
    response = client.post(url, {"action": "create", "name": "PACS", "kind": "cstore", "ae_title": "PACS",
                                 "host": "pacs", "port": "eleven"}, follow=True)

    assert "The port is a number from 1 to 65535." in response.content.decode()
    assert not Destination.objects.filter(hospital=hospital_a).exists()


def test_exports_page__test_connection_shows_the_failure_sentence(page, admin_a, hospital_a):
    client, url = page
    port = free_port()
    destination = services.create_destination(actor=admin_a, hospital=hospital_a, name="PACS", kind="cstore",
                                              ae_title="PACS", host="127.0.0.1", port=port)

    html = client.post(url, {"action": "echo", "destination": destination.uuid}, follow=True).content.decode()

    assert f"No DICOM answer from PACS@127.0.0.1:{port}" in html


def test_exports_page__delete_keeps_a_destination_with_an_export_log(page, stow, hospital_a, admin_a):
    client, url = page
    study = make_study(hospital=hospital_a, received_at=timezone.now())
    ExportJob.objects.create(destination=stow, study=study, revision=0, status=ExportJob.Status.SENT)
    unused = services.create_destination(actor=admin_a, hospital=hospital_a, name="Old", kind="stow",
                                         url="https://old.example/dicom-web")

    client.post(url, {"action": "delete", "destination": stow.uuid})
    client.post(url, {"action": "delete", "destination": unused.uuid})

    assert list(Destination.objects.values_list("name", "is_active")) == [("Web PACS", False)]


def test_exports_page__send_on_setting_and_resend_from_the_study_log(page, stow, hospital_a):
    client, url = page
    study = make_study(hospital=hospital_a, received_at=timezone.now(), accession="ACC-77")
    job = ExportJob.objects.create(destination=stow, study=study, revision=0, status=ExportJob.Status.FAILED,
                                   attempts=5, last_error="The STOW-RS server answered HTTP 503.")

    client.post(url, {"action": "send_on", "send_on": "ai_ready"})
    html = client.get(f"{url}?study={study.uuid}").content.decode()
    client.post(url, {"action": "resend", "job": job.uuid, "study": "1"})

    assert ExportSettings.objects.get(hospital=hospital_a).send_on == "ai_ready"
    assert "ACC-77" in html and "HTTP 503" in html and "Re-send" in html
    job.refresh_from_db()
    assert (job.status, job.attempts, job.last_error) == (ExportJob.Status.PENDING, 0, "")


def test_exports_page__other_hospitals_are_404_and_radiologists_403(client, admin_b, radiologist, hospital_a, stow):
    url = f"/administration/hospitals/{hospital_a.uuid}/exports/"
    client.force_login(admin_b)
    assert client.get(url).status_code == 404
    client.force_login(radiologist)
    assert client.get(url).status_code == 403


def test_exports_page__platform_admin_manages_any_hospital(client, platform_admin, hospital_a, stow):
    client.force_login(platform_admin)

    html = client.get(f"/administration/hospitals/{hospital_a.uuid}/exports/").content.decode()

    assert "Web PACS" in html and SECRET not in html
