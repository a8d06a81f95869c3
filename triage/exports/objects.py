"""Gather a study's current result, masks and key images, and build its DICOM objects (a read: writes nothing).

The worker does not keep the lung and lesion masks, only the numbers (``Quantification``), so
the masks are regenerated here from the stored series with :func:`inference.quantify.quantify_volume`,
the same function and data the analysis used. The SR reports the stored numbers (what the
platform shows); the SEG holds the regenerated masks.
"""
from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict, dataclass

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset

from triage.core.exceptions import DomainError
from triage.exports import dicom_objects
from triage.exports.senders import encode
from triage.gateway.result_objects import ResultObject
from triage.reports.models import Report
from triage.reports.selectors import latest_report_for
from triage.results.models import Overlay, Result
from triage.results.selectors import current_result_for, overlay_png
from triage.studies.models import Instance, Study
from triage.core.object_store import get_store, read_content, sha256_of
from triage.studies.storage import store_content

logger = logging.getLogger(__name__)

NO_RESULT_MSG = "The study has no current AI result to export."
NO_SERIES_MSG = "The study has no selected series to export results for."


@dataclass(frozen=True)
class ResultObjects:
    """The DICOM objects of one result, in the order a PACS should receive them (SEG before the SR)."""

    datasets: list[Dataset]
    revision: int

    @property
    def sop_instance_uids(self) -> list[str]:
        return [str(ds.SOPInstanceUID) for ds in self.datasets]


def review_status(report: Report | None) -> str:
    """Return ``unreviewed``, ``confirmed`` or ``overridden`` from the latest signed report."""
    if report is None:
        return "unreviewed"
    return "confirmed" if report.verdict == Report.Verdict.CONFIRMED else "overridden"


def _summary(result: Result, report: Report | None) -> dicom_objects.ResultSummary:
    q = result.quantification
    return dicom_objects.ResultSummary(
        model_name=result.model_version.name, model_version=result.model_version.version,
        covid_probability=result.covid_probability, predicted_label=result.predicted_label,
        lung_ml={"left": q.lung_left_ml, "right": q.lung_right_ml},
        lesion_fraction={"left": q.lesion_fraction_left, "right": q.lesion_fraction_right},
        lesion_ml_by_lung=_lesions_by_lung(q),
        lesion_hu_mean=q.lesion_hu_mean, severity_total=q.severity_total,
        review_status=review_status(report), revision=report.version if report else 0)


def _lesions_by_lung(q) -> dict[str, dict[str, float]]:
    by_lung = (q.report or {}).get("lesion_ml_by_lung")
    if by_lung:
        return {side: {k: float(by_lung[side][k]) for k in ("ggo", "consolidation")} for side in ("left", "right")}
    # Older rows keep totals only: split them by each lung's share of the lesion volume.
    shares = {"left": q.lesion_fraction_left * q.lung_left_ml, "right": q.lesion_fraction_right * q.lung_right_ml}
    total = sum(shares.values()) or 1.0
    return {side: {"ggo": q.lesion_ggo_ml * share / total, "consolidation": q.lesion_consolidation_ml * share / total}
            for side, share in shares.items()}


def _source_datasets(study: Study) -> list[Dataset]:
    from inference.dicom_io import sort_slices

    if study.selected_series_id is None:
        raise DomainError(NO_SERIES_MSG)
    instances = Instance.objects.filter(series_id=study.selected_series_id, decode_error="")
    datasets = [pydicom.dcmread(io.BytesIO(read_content(i.storage_path))) for i in instances]
    return sort_slices(datasets)[0]


def _rgb(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def build_result_objects(*, study: Study) -> ResultObjects:
    """Build the SEG, the SR and the Grad-CAM key images of the study's current result."""
    from inference.dicom_io import read_series
    from inference.quantify import quantify_volume

    result = current_result_for(study=study)
    if result is None or not hasattr(result, "quantification"):
        raise DomainError(NO_RESULT_MSG)
    report = latest_report_for(study=study)
    summary = _summary(result, report)
    source = _source_datasets(study)
    volume = read_series(source)
    masks = quantify_volume(volume.hu, spacing_mm=volume.spacing_mm, orientation=volume.orientation,
                            superior_first=volume.superior_first)
    seg = dicom_objects.segmentation(source, left_lung=masks.lungs.left, right_lung=masks.lungs.right,
                                     lesion_labels=masks.lesion_labels, summary=summary)
    sr = dicom_objects.structured_report(source, seg=seg, summary=summary)
    overlays = Overlay.objects.filter(result=result, kind=Overlay.Kind.GRADCAM).order_by("slice_index")
    images = [(o.slice_index, _rgb(overlay_png(overlay=o))) for o in overlays if o.slice_index < len(source)]
    key_images = dicom_objects.key_images(source, images=images, summary=summary)
    return ResultObjects(datasets=[seg, sr, *key_images], revision=summary.revision)


def _manifest_path(study: Study, *, result: Result, revision: int) -> str:
    return f"{study.hospital.uuid}/results/{result.uuid}-r{revision}.json"


def result_objects_for_dicomweb(study: Study) -> list[ResultObject]:
    """Return the current result's objects of ``study``, each stored in the study store, for DICOMweb reads.

    Building them regenerates the masks (seconds of CPU), so the first read stores the built
    files under their content address and a manifest keyed by the current result and the
    revision; later reads only read the manifest. A new current result or a sign-off changes
    the key, so a stale or a candidate (shadow) result is never served. ``[]`` without a result.
    """
    result = current_result_for(study=study)
    if result is None:
        return []
    report = latest_report_for(study=study)
    try:
        with get_store().open(_manifest_path(study, result=result, revision=report.version if report else 0)) as f:
            return [ResultObject(**entry) for entry in json.load(f)]
    except FileNotFoundError:
        pass
    revision, objects = report.version if report else 0, []
    try:
        built = build_result_objects(study=study)
        revision = built.revision
        for dataset in built.datasets:
            data = encode(dataset)
            path, _ = store_content(hospital_uuid=study.hospital.uuid, data=data, sha256=sha256_of(data))
            objects.append(ResultObject(series_instance_uid=str(dataset.SeriesInstanceUID),
                                        sop_instance_uid=str(dataset.SOPInstanceUID), storage_path=path))
    except (DomainError, ValueError, AttributeError, TypeError) as exc:
        # No quantification or series, or source headers highdicom cannot build from: the same
        # data fails the same way, so the empty answer is kept too, and the study's stored
        # series are served as before rather than failing with the result.
        logger.warning("exports.result_objects_not_built", extra={"study_id": study.id, "error": str(exc)[:200]})
        objects = []
    manifest = json.dumps([asdict(o) for o in objects]).encode()
    get_store().put(_manifest_path(study, result=result, revision=revision), io.BytesIO(manifest),
                      size=len(manifest))
    return objects
