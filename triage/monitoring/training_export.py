"""Export a hospital's studies with a definite label as a de-identified training folder.

The folder is the one both training CLIs read (:func:`inference.volume_data.read_training_folder`):
one sub-folder of de-identified DICOM slices per study (DICOM PS3.15 basic profile,
:mod:`triage.monitoring.deidentify`, slices with Burned In Annotation = YES left out) and ``labels.csv`` with keyed pseudonyms, the label, its source,
the study month and the scanner. Pseudonyms use the research-export key, so a training set joins
the research CSV. Only the selected CT series of each study leaves, and only studies whose label
is definite: a current RT-PCR result (``pcr``; inconclusive ones are skipped) or a signed report's
radiologist label (``radiologist``).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from django.db import models

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import ADMIN_ROLES, require_role
from triage.audit.services import record_event
from triage.core.exceptions import DomainError
from triage.decisions.models import PcrOutcome
from triage.monitoring.audit_actions import MonitoringAction
from triage.monitoring.selectors import research_key
from triage.reports.selectors import annotate_review_state
from triage.core import object_store
from triage.monitoring.deidentify import BurnedInAnnotationRefused, deidentify_dataset, dummy_identifier
from triage.studies.models import Study
from triage.studies.selectors import ordered_slices, studies_visible_to

OUT_NOT_EMPTY_MSG = "The output folder {out} is not empty; export into a new or empty folder."
PCR_LABELS = {PcrOutcome.Result.POSITIVE: "covid", PcrOutcome.Result.NEGATIVE: "non-covid"}


class LabelSource(models.TextChoices):
    PCR = "pcr", "RT-PCR result"
    RADIOLOGIST = "radiologist", "Radiologist's signed label"


class ExportFolderNotEmpty(DomainError):
    """The export would mix with files already in the output folder."""


@dataclass
class TrainingExport:
    """What an export wrote: the folder, how many studies, and why others were left out."""

    folder: Path
    studies: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    refused_slices: int = 0  # (0028,0301) Burned In Annotation = YES: never exported

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _labelled_studies(*, user: User, hospital: Hospital, label_source: str) -> list[tuple[Study, str | None]]:
    studies = studies_visible_to(user=user).filter(hospital=hospital).order_by("id")
    if label_source == LabelSource.PCR:
        pcr = dict(PcrOutcome.objects.filter(is_current=True, study__in=studies).values_list("study_id", "result"))
        return [(study, PCR_LABELS.get(pcr.get(study.id))) for study in studies]
    return [(study, study.report_label or None) for study in annotate_review_state(studies)]


def _write_series(study: Study, folder: Path, *, key: bytes, export: TrainingExport) -> str:
    """De-identify and write the study's ordered slices; return the scanner named in their headers."""
    folder.mkdir(parents=True)
    scanner = ""
    for number, instance in enumerate(ordered_slices(study=study), start=1):
        try:
            dataset = deidentify_dataset(pydicom.dcmread(io.BytesIO(object_store.read_content(instance.storage_path))), key=key)
        except BurnedInAnnotationRefused:
            export.refused_slices += 1
            continue
        dataset.save_as(folder / f"IM{number:04d}.dcm", enforce_file_format=True)
        # (0008,0070) Manufacturer and (0008,1090) Manufacturer's Model Name survive the basic profile.
        scanner = scanner or " ".join(str(dataset.get(k, "")).strip() for k in ("Manufacturer", "ManufacturerModelName")).strip()
    return scanner


def export_training_set(*, user: User, hospital: Hospital, label_source: str, out: str | Path) -> TrainingExport:
    """Write ``hospital``'s labelled studies to ``out`` as a training folder; audit the export.

    Hospital admins may export their own hospital, platform admins any. ``out`` must be new or empty.
    """
    from inference.volume_data import write_labels_csv

    require_role(user=user, hospital=hospital, roles=ADMIN_ROLES)
    label_source = LabelSource(label_source)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ExportFolderNotEmpty(OUT_NOT_EMPTY_MSG.format(out=out))
    out.mkdir(parents=True, exist_ok=True)
    key = research_key()
    export = TrainingExport(folder=out)
    rows = []
    for study, label in _labelled_studies(user=user, hospital=hospital, label_source=label_source):
        if label is None:
            export.skip("no definite label")
            continue
        if not ordered_slices(study=study).exists():
            export.skip("no readable selected CT series")
            continue
        pseudonym = dummy_identifier(str(study.uuid), key=key)
        scanner = _write_series(study, out / pseudonym, key=key, export=export)
        # Patient IDs are issued per hospital: pseudonymise the (hospital, ID) pair, as the research export does.
        patient = dummy_identifier(f"{hospital.uuid}/{study.patient_id}" if study.patient_id else f"study:{study.uuid}",
                                   key=key)
        rows.append({"volume": pseudonym, "patient": patient, "label": label, "label_source": label_source.value,
                     # the month only: a full study date is an identifier (PS3.15 removes it from the headers)
                     "study_date": study.study_date.strftime("%Y-%m") if study.study_date else "",
                     "scanner": scanner})
        export.studies += 1
    if rows:
        write_labels_csv(out, rows)
    record_event(actor=user, action=MonitoringAction.TRAINING_SET_EXPORTED, hospital=hospital,
                 extra={"studies": export.studies, "label_source": label_source.value, "skipped": export.skipped,
                        "refused_slices": export.refused_slices})
    return export
