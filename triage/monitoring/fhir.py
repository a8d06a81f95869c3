"""One study's AI result and radiologist report as a FHIR R4 Bundle: a DiagnosticReport plus Observations.

Codes: LOINC 24627-2 (CT Chest) for the report, DICOM/HL7 category RAD, SNOMED CT for the
conclusion (840539006 COVID-19, 233604007 pneumonia, 17621005 normal) and a local code system
for the AI measurements, which have no standard code. Fractions are sent as percent (UCUM ``%``).
"""
from __future__ import annotations

import uuid

from triage.reports.models import Report
from triage.results.models import Quantification, Result
from triage.studies.models import Study

LOCAL_CODES = "https://ct-triage.example/fhir/CodeSystem/ai-observations"
STUDY_IDENTIFIER_SYSTEM = "urn:ct-triage:study"
LOINC, SNOMED, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"
CONCLUSION_CODES = {
    "covid": ("840539006", "Disease caused by severe acute respiratory syndrome coronavirus 2 (disorder)"),
    "pneumonia": ("233604007", "Pneumonia (disorder)"),
    "normal": ("17621005", "Normal (qualifier value)"),
}


def _urn(study: Study, name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(study.uuid, name)}"


def _local(code: str, display: str) -> dict:
    return {"coding": [{"system": LOCAL_CODES, "code": code, "display": display}], "text": display}


def _conclusion_code(label: str) -> dict | None:
    key = next((k for k in CONCLUSION_CODES if k in label.lower()), None)
    if key is None:
        return None
    code, display = CONCLUSION_CODES[key]
    return {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": label}


def _observations(*, study: Study, result: Result | None, quantification: Quantification | None,
                  subject: dict, issued: str) -> list[tuple[str, dict]]:
    base = {"resourceType": "Observation", "status": "final", "subject": subject, "issued": issued,
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "imaging", "display": "Imaging"}]}]}
    items: list[tuple[str, dict]] = []
    if result is not None and not result.applicable:
        # Outside the model's validated domain: say so and why, never a probability that means nothing.
        items.append(("ai-not-applicable", base | {
            "code": _local("ai-not-applicable", "AI not applicable: study outside the model's validated domain"),
            "valueString": "AI not applicable: " + "; ".join(result.not_applicable_reasons),
            "device": {"display": f"{result.model_version.name} {result.model_version.version}"}}))
    elif result is not None:
        items.append(("covid-probability", base | {
            "code": _local("covid19-probability", "AI COVID-19 pneumonia probability (calibrated)"),
            "valueQuantity": {"value": round(result.covid_probability, 4), "unit": "probability",
                              "system": UCUM, "code": "1"},
            "device": {"display": f"{result.model_version.name} {result.model_version.version}"}}))
        items.append(("ai-label", base | {"code": _local("ai-label", "AI predicted class"),
                                          "valueString": result.predicted_label}))
    if quantification is not None:
        items.append(("lesion-percent", base | {
            "code": _local("lesion-percent-both-lungs", "Lesion volume, percent of both lungs"),
            "valueQuantity": {"value": round(100 * quantification.lesion_fraction_both, 2), "unit": "%",
                              "system": UCUM, "code": "%"}}))
        items.append(("lesion-volume", base | {
            "code": _local("lesion-volume", "Lesion volume"),
            "valueQuantity": {"value": round(quantification.lesion_total_ml, 1), "unit": "mL",
                              "system": UCUM, "code": "mL"}}))
        items.append(("severity", base | {"code": _local("severity-score", "CT severity score (sum over zones)"),
                                          "valueInteger": int(quantification.severity_total)}))
    return [(_urn(study, name), resource | {"id": str(uuid.uuid5(study.uuid, name))}) for name, resource in items]


def diagnostic_report_bundle(*, study: Study, result: Result | None, quantification: Quantification | None,
                             report: Report | None) -> dict:
    """Return a ``collection`` Bundle whose DiagnosticReport references every Observation in it.

    Status: ``final`` once signed, ``amended`` after an addendum, ``preliminary`` with only the AI result,
    ``registered`` before any result.
    """
    subject = {"identifier": {"system": f"urn:ct-triage:hospital:{study.hospital.code}:patient-id",
                              "value": study.patient_id or "unknown"}}
    if report is not None:
        status, issued_at = ("amended" if report.version > 1 else "final"), report.signed_at
    elif result is not None:
        status, issued_at = "preliminary", result.created_at
    else:
        status, issued_at = "registered", study.received_at
    issued = issued_at.isoformat()
    observations = _observations(study=study, result=result, quantification=quantification, subject=subject,
                                 issued=issued)
    diagnostic_report = {
        "resourceType": "DiagnosticReport",
        "id": str(study.uuid),
        "identifier": [{"system": STUDY_IDENTIFIER_SYSTEM, "value": str(study.uuid)}],
        "status": status,
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD",
                                  "display": "Radiology"}]}],
        "code": {"coding": [{"system": LOINC, "code": "24627-2", "display": "CT Chest"}], "text": "CT chest"},
        "subject": subject,
        "issued": issued,
        "result": [{"reference": urn} for urn, _ in observations],
    }
    if study.study_date:
        diagnostic_report["effectiveDateTime"] = study.study_date.isoformat()
    if study.accession_number:
        diagnostic_report["identifier"].append(
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]},
             "value": study.accession_number})
    if report is not None:
        diagnostic_report["conclusion"] = (f"Radiologist: {report.radiologist_label} "
                                           f"({report.get_verdict_display().lower()}).")
        if report.comment:
            diagnostic_report["conclusion"] += f" {report.comment}"
        code = _conclusion_code(report.radiologist_label)
        if code:
            diagnostic_report["conclusionCode"] = [code]
        diagnostic_report["resultsInterpreter"] = [{"display": report.signed_by.get_full_name()
                                                    or report.signed_by.get_username()}]
    entries = [{"fullUrl": _urn(study, "report"), "resource": diagnostic_report}]
    entries += [{"fullUrl": urn, "resource": resource} for urn, resource in observations]
    return {"resourceType": "Bundle", "type": "collection", "timestamp": issued, "entry": entries}
