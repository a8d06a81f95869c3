"""Monitoring pages and APIs: rendering, empty states, tenancy, anonymous access."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from triage.decisions.models import PcrOutcome
from triage.monitoring.selectors import operating_threshold_for
from tests.unit.monitoring.factories import make_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_for(client):
    def make(user):
        client.force_login(user)
        return client
    return make


def test_dashboard_page__shows_confusion_matrix_and_inconclusive_note(hospital_a, admin_a, client_for):
    for probability, pcr in [(0.9, "positive"), (0.8, "positive"), (0.3, "negative"), (0.6, "negative"),
                             (0.7, "inconclusive")]:
        make_case(hospital=hospital_a, probability=probability, pcr=pcr, signer=admin_a)
    html = client_for(admin_a).get(f"/monitoring/hospitals/{hospital_a.uuid}/").content.decode()
    assert '<td data-cell="tp" class="hit">2</td>' in html and '<td data-cell="fp" class="miss">1</td>' in html
    assert "Inconclusive PCR results are excluded" in html and "(1 excluded)" in html
    assert "<svg" in html and 'id="operating-points"' in html


def test_dashboard_page__empty_state_without_outcomes(hospital_a, admin_a, client_for):
    html = client_for(admin_a).get(f"/monitoring/hospitals/{hospital_a.uuid}/").content.decode()
    assert "No PCR outcomes recorded yet" in html and "No failed studies." in html


def test_dashboard_page__foreign_hospital_is_404_and_all_view_is_403_for_hospital_admin(hospital_b, admin_a,
                                                                                        client_for):
    client = client_for(admin_a)
    assert client.get(f"/monitoring/hospitals/{hospital_b.uuid}/").status_code == 404
    assert client.get("/monitoring/all/").status_code == 403


def test_dashboard_page__anonymous_is_sent_to_login(hospital_a, client):
    response = client.get(f"/monitoring/hospitals/{hospital_a.uuid}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_index_page__lists_hospitals_and_all_view_for_platform_admin(hospital_a, hospital_b, platform_admin,
                                                                     client_for):
    html = client_for(platform_admin).get("/monitoring/").content.decode()
    assert "All hospitals" in html and "Hospital A" in html and "Hospital B" in html


def test_index_page__explains_when_user_administers_nothing(clinician, client_for):
    assert "You administer no hospital" in client_for(clinician).get("/monitoring/").content.decode()


def test_threshold_page__saves_and_reports_bad_input(hospital_a, admin_a, client_for):
    client = client_for(admin_a)
    url = f"/monitoring/hospitals/{hospital_a.uuid}/threshold/"
    assert client.post(url, {"operating_threshold": "0.42"}).status_code == 302
    assert operating_threshold_for(hospital=hospital_a) == 0.42
    client.post(url, {"operating_threshold": "high"})
    assert operating_threshold_for(hospital=hospital_a) == 0.42


def test_pcr_import_page__check_then_import(hospital_a, admin_a, client_for):
    make_case(hospital=hospital_a, accession_number="ACC-1")
    client, url = client_for(admin_a), f"/monitoring/hospitals/{hospital_a.uuid}/pcr-import/"
    data = b"accession_number,result,sample_taken_on\nACC-1,positive,2026-01-02\n"
    checked = client.post(url, {"action": "check", "file": SimpleUploadedFile("p.csv", data)})
    assert checked.status_code == 200 and "Check result" in checked.content.decode()
    assert not PcrOutcome.objects.exists()
    imported = client.post(url, {"action": "import", "file": SimpleUploadedFile("p.csv", data)})
    assert "Imported" in imported.content.decode() and PcrOutcome.objects.count() == 1


def test_pcr_import_page__errors_are_listed_and_nothing_saved(hospital_a, admin_a, client_for):
    client, url = client_for(admin_a), f"/monitoring/hospitals/{hospital_a.uuid}/pcr-import/"
    data = b"accession_number,result,sample_taken_on\nACC-404,positive,2026-01-02\n"
    response = client.post(url, {"action": "import", "file": SimpleUploadedFile("p.csv", data)})
    assert response.status_code == 422 and 'data-code="unknown_accession"' in response.content.decode()
    assert not PcrOutcome.objects.exists()


def test_metrics_api__returns_counts_for_platform_admin_all_view(hospital_a, hospital_b, admin_a, platform_admin,
                                                                 api_client_for):
    make_case(hospital=hospital_a, probability=0.9, pcr="positive", signer=admin_a)
    make_case(hospital=hospital_b, probability=0.9, pcr="negative", signer=admin_a)
    body = api_client_for(platform_admin).get("/api/monitoring/metrics/").json()
    assert (body["model"]["tp"], body["model"]["fp"], body["n_outcomes"]) == (1, 1, 2)
    assert api_client_for(admin_a).get("/api/monitoring/metrics/").status_code == 403


def test_threshold_api__validates_and_uses_one_error_shape(hospital_a, admin_a, api_client_for):
    client, url = api_client_for(admin_a), f"/api/monitoring/hospitals/{hospital_a.uuid}/threshold/"
    bad = client.put(url, {"operating_threshold": 2}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"message", "extra"}
    assert client.put(url, {"operating_threshold": 0.3}, format="json").json()["operating_threshold"] == 0.3


def test_pcr_import_api__dry_run_by_default_then_422_on_errors(hospital_a, admin_a, api_client_for):
    make_case(hospital=hospital_a, accession_number="ACC-1")
    client, url = api_client_for(admin_a), f"/api/monitoring/hospitals/{hospital_a.uuid}/pcr-outcomes/import/"
    good = b"accession_number,result,sample_taken_on\nACC-1,negative,2026-01-02\n"
    body = client.post(url, {"file": SimpleUploadedFile("p.csv", good)}, format="multipart").json()
    assert (body["dry_run"], body["created"], body["committed"]) == (True, 1, False)
    bad = good + b"ACC-1,negative,2026-01-02\n"
    response = client.post(url, {"file": SimpleUploadedFile("p.csv", bad), "dry_run": "false"}, format="multipart")
    assert response.status_code == 422
    assert response.json()["extra"]["report"]["errors"][0]["code"] == "duplicate_row"
    assert not PcrOutcome.objects.exists()


def test_fhir_api__member_gets_bundle_and_anonymous_gets_401(hospital_a, clinician, api_client_for):
    study = make_case(hospital=hospital_a, probability=0.4)
    assert api_client_for(clinician).get(f"/api/studies/{study.uuid}/fhir/").json()["resourceType"] == "Bundle"
    assert api_client_for().get(f"/api/studies/{study.uuid}/fhir/").status_code == 401


def test_csv_downloads__admin_gets_csv_and_clinician_is_denied(hospital_a, admin_a, clinician, client_for):
    make_case(hospital=hospital_a, probability=0.9, pcr="positive", signer=admin_a, patient_name="Doe^Jane")
    client = client_for(admin_a)
    for path in ("metrics.csv", "research.csv"):
        response = client.get(f"/monitoring/hospitals/{hospital_a.uuid}/{path}")
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert b"Doe" not in client.get(f"/monitoring/hospitals/{hospital_a.uuid}/research.csv").content
    client.force_login(clinician)
    assert client.get(f"/monitoring/hospitals/{hospital_a.uuid}/research.csv").status_code == 403


def test_research_export_api__admin_only(hospital_a, admin_a, clinician, api_client_for):
    make_case(hospital=hospital_a, probability=0.9)
    url = f"/api/monitoring/hospitals/{hospital_a.uuid}/research-export/"
    assert len(api_client_for(admin_a).get(url).json()) == 1
    assert api_client_for(clinician).get(url).status_code == 403


def test_research_dicom_export__zip_of_deidentified_ordered_slices_for_admins_only(hospital_a, admin_a, clinician,
                                                                                   client_for, study_storage):
    import io
    import zipfile

    import numpy as np
    import pydicom

    from tests.unit.worklist.factories import ct_dicom, store_series
    from triage.audit.models import AuditEvent

    study = make_case(hospital=hospital_a, probability=0.9, patient_name="Doe^Jane")
    uid = "1.2.826.0.1.3680043.10.999.1"
    files = []
    for z in (2.0, 0.0, 1.0):
        ds = pydicom.dcmread(io.BytesIO(ct_dicom(np.zeros((4, 4), np.int16), z_mm=z, study_uid=uid)))
        ds.PatientName, ds.PatientID = "Doe^Jane", "PAT-REAL-1"
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        files.append(buffer.getvalue())
    store_series(study=study, files=files)
    response = client_for(admin_a).get(f"/monitoring/hospitals/{hospital_a.uuid}/research-dicom.zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert len(archive.namelist()) == 3
    for name in archive.namelist():
        data = archive.read(name)
        assert b"Doe" not in data and b"PAT-REAL-1" not in data and uid.encode() not in data
        ds = pydicom.dcmread(io.BytesIO(data))
        assert ds.PatientIdentityRemoved == "YES" and name.startswith(f"{ds.StudyInstanceUID}/")
    event = AuditEvent.objects.get(action="monitoring.research_exported")
    assert event.extra == {"format": "dicom", "studies": 1, "instances": 3, "refused": 0}
    client_for(clinician)
    assert client_for(clinician).get(f"/monitoring/hospitals/{hospital_a.uuid}/research-dicom.zip").status_code == 403
