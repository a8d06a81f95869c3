"""FHIR R4 structure of one study's report; de-identified research export; metrics CSV."""
import csv
import io
import json
from datetime import date

import pytest

from triage.monitoring import selectors
from triage.monitoring.exports import METRICS_CSV_HEADER, research_csv
from tests.unit.monitoring.factories import make_case

pytestmark = pytest.mark.django_db
PHI = {"patient_name": "Doe^Jane", "patient_id": "MRN-7734", "accession_number": "ACC-991",
       "patient_birth_date": date(1961, 4, 2), "study_date": date(2026, 1, 4)}


def _resources(bundle: dict, resource_type: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def test_fhir_report_get__bundle_has_required_r4_diagnostic_report_fields(hospital_a, admin_a):
    study = make_case(hospital=hospital_a, probability=0.87, radiologist="covid", signer=admin_a, quantify=True, **PHI)
    bundle = selectors.fhir_report_get(user=admin_a, study_uuid=study.uuid)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    [report] = _resources(bundle, "DiagnosticReport")
    for required in ("resourceType", "status", "code", "subject", "issued", "result"):
        assert report[required], required
    assert report["status"] == "final"
    assert report["code"]["coding"][0] == {"system": "http://loinc.org", "code": "24627-2", "display": "CT Chest"}
    assert report["subject"]["identifier"]["value"] == "MRN-7734"
    assert report["conclusionCode"][0]["coding"][0]["code"] == "840539006"
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    assert {ref["reference"] for ref in report["result"]} <= full_urls
    assert len(report["result"]) == 5


def test_fhir_report_get__observations_carry_probability_lesion_percent_and_severity(hospital_a, admin_a):
    study = make_case(hospital=hospital_a, probability=0.87, quantify=True)
    bundle = selectors.fhir_report_get(user=admin_a, study_uuid=study.uuid)
    observations = {o["code"]["coding"][0]["code"]: o for o in _resources(bundle, "Observation")}
    for observation in observations.values():
        assert observation["status"] == "final" and observation["code"]["coding"] and observation["subject"]
    assert observations["covid19-probability"]["valueQuantity"]["value"] == 0.87
    assert observations["lesion-percent-both-lungs"]["valueQuantity"] == {
        "value": 3.0, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
    assert observations["severity-score"]["valueInteger"] == 7
    assert _resources(bundle, "DiagnosticReport")[0]["status"] == "preliminary"
    json.dumps(bundle)  # serialisable as is


def test_research_export_rows__contain_no_phi_and_pseudonymise_consistently(hospital_a, admin_a):
    first = make_case(hospital=hospital_a, probability=0.6, pcr="positive", radiologist="covid", signer=admin_a, **PHI)
    make_case(hospital=hospital_a, probability=0.2, patient_id="MRN-7734", accession_number="ACC-992",
              patient_name="Doe^Jane")
    rows = selectors.research_export_rows(user=admin_a, hospitals=[hospital_a])
    text = research_csv(rows)
    for value in ("Doe", "Jane", "MRN-7734", "ACC-99", "1961", "2026-01-04", str(first.uuid), first.study_instance_uid):
        assert value not in text, value
    assert rows[0]["patient"] == rows[1]["patient"] != ""  # same patient, same pseudonym
    assert rows[0]["study"] != rows[1]["study"]
    assert (rows[0]["pcr_result"], rows[0]["radiologist_label"]) == ("positive", "covid")
    again = selectors.research_export_rows(user=admin_a, hospitals=[hospital_a])
    assert [r["study"] for r in again] == [r["study"] for r in rows]


def test_metrics_csv_get__lists_confusion_cells_and_metrics_with_cis(hospital_a, admin_a):
    for probability, pcr in [(0.9, "positive"), (0.2, "positive"), (0.7, "negative"), (0.1, "negative")]:
        make_case(hospital=hospital_a, probability=probability, pcr=pcr, signer=admin_a)
    scope = selectors.dashboard_scope_get(user=admin_a, hospital_uuid=hospital_a.uuid)
    rows = list(csv.reader(io.StringIO(selectors.metrics_csv_get(user=admin_a, scope=scope))))
    assert tuple(rows[0]) == METRICS_CSV_HEADER
    cells = {r[2]: r for r in rows if r[1] == "model"}
    assert [cells[c][3] for c in ("tp", "fp", "fn", "tn")] == ["1", "1", "1", "1"]
    assert float(cells["sensitivity"][3]) == pytest.approx(0.5) and cells["sensitivity"][4] != ""


def test_fhir_report_get__not_applicable_result_exports_the_reason_not_a_probability(hospital_a, admin_a):
    from triage.results.models import Result

    study = make_case(hospital=hospital_a, probability=0.87, quantify=True)
    Result.objects.filter(study=study).update(applicable=False, not_applicable_reasons=["no chest CT with lungs in the field of view"])
    bundle = selectors.fhir_report_get(user=admin_a, study_uuid=study.uuid)
    observations = {o["code"]["coding"][0]["code"]: o for o in _resources(bundle, "Observation")}
    assert observations["ai-not-applicable"]["valueString"] == "AI not applicable: no chest CT with lungs in the field of view"
    assert "covid19-probability" not in observations
