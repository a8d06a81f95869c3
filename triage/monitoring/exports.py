"""Export rows: metrics as CSV, and de-identified research rows (PS3.15 profile via deidentify_metadata)."""
from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

from triage.monitoring.evaluation import Comparison, Evaluation
from triage.monitoring.deidentify import BurnedInAnnotationRefused, deidentify_bytes, deidentify_metadata, dummy_identifier
from triage.results.models import Result
from triage.studies.models import Study

METRICS_CSV_HEADER = ("scope", "reader", "metric", "value", "ci95_low", "ci95_high", "n")
RESEARCH_FIELDS = ("study", "patient", "hospital", "patient_sex", "patient_age", "model_version",
                   "covid_probability", "predicted_label", "lesion_fraction_both", "lesion_total_ml",
                   "severity_total", "radiologist_label", "pcr_result")


def _comparison_rows(scope: str, comparison: Comparison | None) -> list[tuple]:
    if comparison is None:
        return []
    rows: list[tuple] = [(scope, comparison.reader, cell, count, "", "", comparison.n)
                         for cell, count in (("tp", comparison.tp), ("fp", comparison.fp),
                                             ("fn", comparison.fn), ("tn", comparison.tn))]
    for name, metric in comparison.metrics.items():
        low, high = metric["ci95"] or ("", "")
        rows.append((scope, comparison.reader, name, "" if metric["value"] is None else metric["value"], low, high,
                     comparison.n))
    return rows


def metrics_csv(*, scope: str, evaluation: Evaluation, threshold_label: str) -> str:
    """Return the confusion matrices, metrics with CIs, kappa and ECE as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(METRICS_CSV_HEADER)
    writer.writerows(_comparison_rows(scope, evaluation.model))
    writer.writerows(_comparison_rows(scope, evaluation.radiologist))
    writer.writerow((scope, "model", "operating_threshold", threshold_label, "", "", evaluation.n_outcomes))
    writer.writerow((scope, "model", "ece", "" if evaluation.ece is None else evaluation.ece, "", "",
                     evaluation.n_outcomes))
    writer.writerow((scope, "model_vs_radiologist", "cohen_kappa",
                     "" if evaluation.kappa_model_radiologist is None else evaluation.kappa_model_radiologist,
                     "", "", evaluation.n_kappa))
    writer.writerow((scope, "pcr", "inconclusive_excluded", evaluation.n_inconclusive, "", "", ""))
    return out.getvalue()


def research_row(*, study: Study, result: Result, report_label: str | None, pcr_result: str | None,
                 key: bytes) -> dict:
    """Return one de-identified row: keyed pseudonyms for ids, no names, dates or accession numbers."""
    # Patient IDs are issued per hospital: pseudonymise the (hospital, ID) pair, so equal IDs at two
    # hospitals never link two people in a pooled export.
    patient_key = f"{study.hospital.uuid}/{study.patient_id}" if study.patient_id else ""
    metadata = deidentify_metadata({
        "patient_id": patient_key, "patient_name": study.patient_name,
        "accession_number": study.accession_number, "study_date": study.study_date,
        "patient_birth_date": study.patient_birth_date, "patient_sex": study.patient_sex,
        "patient_age": study.patient_age,
    }, key=key, retain_patient_characteristics=True)
    quantification = getattr(result, "quantification", None)  # RelatedObjectDoesNotExist is an AttributeError
    return {
        "study": dummy_identifier(str(study.uuid), key=key),
        "patient": metadata.get("patient_id") or dummy_identifier(f"study:{study.uuid}", key=key),
        "hospital": study.hospital.code,
        "patient_sex": metadata.get("patient_sex") or "",
        "patient_age": metadata.get("patient_age") or "",
        "model_version": f"{result.model_version.name}/{result.model_version.version}",
        "covid_probability": round(result.covid_probability, 6),
        "predicted_label": result.predicted_label,
        "lesion_fraction_both": quantification.lesion_fraction_both if quantification else None,
        "lesion_total_ml": quantification.lesion_total_ml if quantification else None,
        "severity_total": quantification.severity_total if quantification else None,
        "radiologist_label": report_label or "",
        "pcr_result": pcr_result or "",
    }


def research_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=RESEARCH_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@dataclass(frozen=True)
class DicomExport:
    """A zip of de-identified DICOM files and what went into it."""

    zip_bytes: bytes
    instances: int
    refused: int  # instances with (0028,0301) Burned In Annotation = YES, left out


def deidentified_dicom_zip(files: Iterable[bytes], *, key: bytes) -> DicomExport:
    """De-identify each DICOM file (PS3.15 basic profile, :mod:`triage.monitoring.deidentify`) into one zip.

    Entries are named ``<remapped StudyInstanceUID>/<remapped SOPInstanceUID>.dcm``, so the
    studies of the research CSV (same key, same remapped UIDs) find their images.
    """
    import pydicom

    buffer, instances, refused = io.BytesIO(), 0, 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for data in files:
            try:
                clean = deidentify_bytes(data, key=key)
            except BurnedInAnnotationRefused:
                refused += 1
                continue
            header = pydicom.dcmread(io.BytesIO(clean), stop_before_pixels=True)
            archive.writestr(f"{header.StudyInstanceUID}/{header.SOPInstanceUID}.dcm", clean)
            instances += 1
    return DicomExport(buffer.getvalue(), instances, refused)
