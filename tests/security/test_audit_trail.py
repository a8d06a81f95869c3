"""Every read of patient data and every write leaves an audit row; the API cannot change the log.

``READS`` maps every GET operation to the audit action its read must write, or to ``None`` with
the reason it shows no patient data. A new GET operation fails
``test_every_get_operation__is_classified_for_audit`` until it is classified here.
The model-level append-only guarantee is tested in tests/unit/audit.
"""
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.security.conftest import client_as, tiny_ct
from tests.security.discovery import METHODS
from triage.audit.models import AuditEvent
from triage.studies.models import Study

NO_PATIENT_DATA = None
READS = {
    "/": NO_PATIENT_DATA,  # the user's own memberships
    "/login/": NO_PATIENT_DATA, "/logout/": NO_PATIENT_DATA,
    "/set-password/done/": NO_PATIENT_DATA, "/set-password/{uidb64}/{token}/": NO_PATIENT_DATA,  # invites
    "/api/health/": NO_PATIENT_DATA,
    "/api/health/ready/": NO_PATIENT_DATA, "/api/health/live/": NO_PATIENT_DATA,
    "/api/docs/": NO_PATIENT_DATA, "/api/schema/": NO_PATIENT_DATA, "/api/me/": NO_PATIENT_DATA,
    "/api/hospitals/": NO_PATIENT_DATA, "/api/hospitals/{hospital_uuid}/": NO_PATIENT_DATA,
    "/api/hospitals/{hospital_uuid}/members/": NO_PATIENT_DATA,  # staff, no patients
    "/api/hospitals/{hospital_uuid}/dicom-nodes/": NO_PATIENT_DATA,
    "/api/hospitals/{hospital_uuid}/decision-rules/": NO_PATIENT_DATA,
    "/hospitals/{hospital_uuid}/decision-rules/": NO_PATIENT_DATA,
    "/api/tokens/": NO_PATIENT_DATA, "/api/models/": NO_PATIENT_DATA, "/api/worklist/version/": NO_PATIENT_DATA,
    "/studies/upload/": NO_PATIENT_DATA, "/monitoring/": NO_PATIENT_DATA,
    "/monitoring/hospitals/{hospital_uuid}/pcr-import/": NO_PATIENT_DATA,
    # Dashboards and metrics are aggregates over studies (counts, rates, curves): no patient rows.
    "/api/monitoring/metrics/": NO_PATIENT_DATA, "/api/monitoring/hospitals/{hospital_uuid}/metrics/": NO_PATIENT_DATA,
    "/monitoring/all/": NO_PATIENT_DATA, "/monitoring/hospitals/{hospital_uuid}/": NO_PATIENT_DATA,
    "/monitoring/all/metrics.csv": "monitoring.metrics_exported",
    "/monitoring/hospitals/{hospital_uuid}/metrics.csv": "monitoring.metrics_exported",
    "/api/audit/events/": "audit.viewed",
    "/api/studies/": "study.listed",
    "/api/worklist/": "study.listed",
    "/worklist/": "study.listed",
    "/api/studies/{study_uuid}/": "study.viewed",
    "/api/studies/{study_uuid}/report/": "study.viewed",
    "/api/studies/{study_uuid}/decisions/": "study.viewed",
    "/api/studies/{study_uuid}/pcr-outcomes/": "study.viewed",
    "/api/studies/{study_uuid}/slices/{index}.png": "study.viewed",
    "/api/studies/{study_uuid}/overlays/{index}/{kind}.png": "study.viewed",
    "/studies/{study_uuid}/view/": "study.viewed",
    "/studies/{study_uuid}/report/": "study.viewed",
    "/api/studies/{study_uuid}/fhir/": "study.fhir_exported",
    "/api/monitoring/research-export/": "monitoring.research_exported",
    "/api/monitoring/hospitals/{hospital_uuid}/research-export/": "monitoring.research_exported",
    "/monitoring/all/research.csv": "monitoring.research_exported",
    "/monitoring/hospitals/{hospital_uuid}/research.csv": "monitoring.research_exported",
    "/monitoring/all/research-dicom.zip": "monitoring.research_exported",
    "/monitoring/hospitals/{hospital_uuid}/research-dicom.zip": "monitoring.research_exported",
    # Shadow models: the list names models and hospitals; a comparison lists disagreeing studies.
    "/monitoring/shadow/": NO_PATIENT_DATA, "/api/models/candidates/": NO_PATIENT_DATA,
    "/monitoring/shadow/{candidate_uuid}/": "monitoring.candidate_compared",
    "/api/models/candidates/{candidate_uuid}/comparison/": "monitoring.candidate_compared",
    "/api/hospitals/{hospital_uuid}/export-destinations/": NO_PATIENT_DATA,
    "/api/hospitals/{hospital_uuid}/export-settings/": NO_PATIENT_DATA,
    "/administration/hospitals/{hospital_uuid}/exports/": "export.log_viewed",  # lists studies exported
    # Administration pages: staff, tokens, DICOM nodes and settings, no patients; the audit log is a read of it.
    "/administration/": NO_PATIENT_DATA, "/administration/tokens/": NO_PATIENT_DATA,
    "/administration/hospitals/{hospital_uuid}/": NO_PATIENT_DATA,
    "/administration/hospitals/{hospital_uuid}/dicom-nodes/": NO_PATIENT_DATA,
    "/administration/hospitals/{hospital_uuid}/audit/": "audit.viewed",
    "/hospital/": NO_PATIENT_DATA,  # the navigation's hospital switch (POST; GET is refused)
    "/reports/": "study.listed",
    "/api/studies/{study_uuid}/slices/{index}.i16": "study.viewed",  # PACS addresses, no patients
    "/api/studies/{study_uuid}/exports/": "export.log_viewed",
    # DICOMweb (docs/dicomweb.md): searches list studies, retrievals view them.
    **{f"/dicomweb/{path}": "study.listed" for path in (
        "studies", "series", "instances", "studies/{study_instance_uid}/series",
        "studies/{study_instance_uid}/instances",
        "studies/{study_instance_uid}/series/{series_instance_uid}/instances")},
    **{f"/dicomweb/studies/{{study_instance_uid}}{path}": "study.viewed" for path in (
        "", "/metadata", "/series/{series_instance_uid}", "/series/{series_instance_uid}/metadata",
        *(f"/series/{{series_instance_uid}}/instances/{{sop_instance_uid}}{tail}"
          for tail in ("", "/metadata", "/rendered", "/frames/{frames}", "/frames/{frames}/rendered")))},
}
READERS = ("radiologist", "admin", "platform_admin")  # first one answered 200 is checked


def new_actions(since_id: int, **filters) -> list[str]:
    return list(AuditEvent.objects.filter(id__gt=since_id, **filters).order_by("id").values_list("action", flat=True))


def last_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


@pytest.mark.django_db
def test_every_get_operation__is_classified_for_audit(operations):
    unclassified = sorted({o.template for o in operations if o.method == "get"} - set(READS))
    assert not unclassified, f"classify these reads in READS (audit action or NO_PATIENT_DATA): {unclassified}"


@pytest.mark.django_db
def test_every_patient_data_read__writes_its_audit_action(world, operations):
    clients = {p: client_as(world, p) for p in READERS}
    checked = 0
    for operation in (o for o in operations if o.method == "get" and READS.get(o.template)):
        url = operation.url(world.a.params)
        for principal, client in clients.items():
            cache.clear()  # image reads are audited once per window (docs/worklist.md)
            since = last_id()
            response = client.get(url, {"reviewed": "all"})  # the worklist hides signed studies by default
            if response.status_code != 200:
                continue
            actor = getattr(world, principal, None) or getattr(world.a, principal)
            assert READS[operation.template] in new_actions(since, actor=actor), (
                f"{principal}: {operation} read without a {READS[operation.template]!r} audit row")
            checked += 1
            break
        else:
            pytest.fail(f"{operation}: no reader got 200, so its audit could not be checked")
    assert checked >= 18


@pytest.mark.django_db
def test_main_flow__every_step_is_audited_in_order(world, study_storage):
    """Upload -> detail -> viewer -> slices -> report -> sign -> decision -> PCR -> dashboard -> exports."""
    from tests.unit.worklist.factories import add_result

    a = world.a
    radiologist, clinician, admin = (client_as(world, p) for p in ("radiologist", "clinician", "admin"))
    since = last_id()
    uids = {"study_uid": "1.2.826.0.1.3680043.10.77.1", "series_uid": "1.2.826.0.1.3680043.10.77.1.1"}
    upload = [SimpleUploadedFile(f"s{z}.dcm", tiny_ct(z_mm=float(z), number=z + 1, **uids)) for z in range(8)]
    response = radiologist.post("/api/studies/", {"hospital": str(a.hospital.uuid), "files": upload},
                                format="multipart")
    assert response.status_code == 201, response.content
    study = Study.objects.get(uuid=response.json()["studies"][0])
    assert "study.uploaded" in new_actions(since, hospital=a.hospital)
    # The pipeline (tested in tests/integration) would analyse it; here a result is attached directly.
    from triage.studies.services.ingest import ingest_study

    ingest_study(study_id=study.id)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.READY)
    add_result(study=study, probability=0.9, label="covid19", slice_probabilities=[0.1, 0.9, 0.2])
    today = timezone.localdate()
    steps = [
        (radiologist, "get", f"/api/studies/{study.uuid}/", None, "study.viewed"),
        (radiologist, "get", f"/studies/{study.uuid}/view/", None, "study.viewed"),
        (radiologist, "get", f"/api/studies/{study.uuid}/slices/1.png", None, "study.viewed"),
        (radiologist, "get", f"/api/studies/{study.uuid}/report/", None, "study.viewed"),
        (radiologist, "post", f"/api/studies/{study.uuid}/report/sign/",
         {"label": "covid19", "expected_version": 0}, "report.signed"),
        (radiologist, "post", f"/api/studies/{study.uuid}/report/addenda/",
         {"comment": "addendum", "expected_version": 1}, "report.addendum_added"),
        (clinician, "get", f"/studies/{study.uuid}/report/", None, "study.viewed"),
        (clinician, "post", f"/api/studies/{study.uuid}/decisions/",
         {"kind": "quarantine", "reason": "flow"}, "decision.recorded"),
        (clinician, "post", f"/api/studies/{study.uuid}/pcr-outcomes/",
         {"result": "positive", "sample_taken_on": str(today - timedelta(days=1))}, "pcr_outcome.recorded"),
        (admin, "put", f"/api/monitoring/hospitals/{a.hospital.uuid}/threshold/",
         {"operating_threshold": 0.4}, "monitoring.threshold_updated"),
        (admin, "get", f"/monitoring/hospitals/{a.hospital.uuid}/metrics.csv", None, "monitoring.metrics_exported"),
        (admin, "get", f"/monitoring/hospitals/{a.hospital.uuid}/research.csv", None, "monitoring.research_exported"),
        (clinician, "get", f"/api/studies/{study.uuid}/fhir/", None, "study.fhir_exported"),
        (admin, "get", "/api/audit/events/", None, "audit.viewed"),
    ]
    for client, method, url, data, action in steps:
        cache.clear()
        since = last_id()
        response = getattr(client, method)(url, data=data, format="json") if data else getattr(client, method)(url)
        assert response.status_code in (200, 201), f"{method.upper()} {url} -> {response.status_code} {response.content[:300]!r}"
        assert action in new_actions(since), f"{method.upper()} {url}: no {action!r} audit row"


@pytest.mark.django_db
def test_audit_event_api__allows_no_change_or_delete(world, operations):
    audit_operations = [o for o in operations if o.template.startswith("/api/audit/")]
    assert {o.method for o in audit_operations} == {"get"}
    client = client_as(world, "platform_admin")
    event_id = client.get("/api/audit/events/").json()["results"][0]["id"]
    before = AuditEvent.objects.count()
    for url in ("/api/audit/events/", f"/api/audit/events/{event_id}/"):
        for method in (m for m in METHODS if m != "get"):
            response = getattr(client, method)(url, data={"action": "x.y"}, format="json")
            assert response.status_code in (404, 405), f"{method.upper()} {url} -> {response.status_code}"
    assert AuditEvent.objects.count() == before
