"""The AI result as DICOM objects for the hospital's PACS, built with highdicom; pure, no Django.

Three kinds of object, each its own series in the source study:

- a **Comprehensive 3D SR** following TID 1500 *Measurement Report*: one TID 1501 group for the
  study (COVID-19 probability, predicted class, severity score, mean lesion HU, radiologist
  review status) and one TID 1411 volumetric group per lung that references its SEG segment
  (lung volume ml, lesion percentage of the lung, GGO and consolidation ml); the model's name
  and version are the Algorithm Identification of every group;
- a **Segmentation** (binary, one segment per lung and one per lesion type: ground-glass
  opacity, consolidation), frame by frame on the source CT series;
- **Secondary Capture** key images: the Grad-CAM overlays as RGB, one instance per key slice.

UIDs are derived from (StudyInstanceUID, model reference, revision, object, index) by
:func:`derived_uid`, so building the same result twice gives the same objects, and re-sending
them to a PACS replaces nothing but what changed. ``revision`` counts the radiologist's report
versions (0 before sign-off) and only enters the SR, the one object whose content it changes.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian

MANUFACTURER = "CT Triage"
SR_SERIES_NUMBER, SEG_SERIES_NUMBER, SC_SERIES_NUMBER = 9901, 9902, 9903
UID_NAMESPACE = uuid.UUID("6f1d3c52-8a4e-5b7f-9c2d-1e0a4b6c8d2f")  # fixed forever: changing it changes every UID
PRIVATE_SCHEME = "99CTTRIAGE"  # concepts no standard terminology names (PS3.16 8.2: "99" private scheme)

LEFT_LUNG = hd.sr.CodedConcept("44029006", "SCT", "Left lung")
RIGHT_LUNG = hd.sr.CodedConcept("3341006", "SCT", "Right lung")
CONSOLIDATION = hd.sr.CodedConcept("95436008", "SCT", "Lung consolidation")
GGO = hd.sr.CodedConcept("112120", "DCM", "Ground glass opacity")
COVID19 = hd.sr.CodedConcept("840539006", "SCT", "COVID-19")
CLASS_CODES = {
    "covid19": COVID19,
    "covid": COVID19,
    "pneumonia": hd.sr.CodedConcept("233604007", "SCT", "Pneumonia"),
    "other_pneumonia": hd.sr.CodedConcept("233604007", "SCT", "Pneumonia"),
    "normal": hd.sr.CodedConcept("17621005", "SCT", "Normal"),
}
CT_OF_CHEST = hd.sr.CodedConcept("169069000", "SCT", "CT of chest")


def _private(value: str, meaning: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value, PRIVATE_SCHEME, meaning)


COVID_PROBABILITY = _private("COVID19-PROB", "COVID-19 probability")
PREDICTED_CLASS = _private("PRED-CLASS", "Predicted class")
SEVERITY_SCORE = _private("SEVERITY-25", "Chest CT severity score (0-25)")
LESION_PERCENT = _private("LESION-PCT", "Lesion volume as percentage of lung volume")
REVIEW_STATUS = _private("REVIEW", "Radiologist review status")
REVIEW_CODES = {
    "unreviewed": _private("UNREVIEWED", "Not yet reviewed by a radiologist"),
    "confirmed": _private("CONFIRMED", "Radiologist confirmed the AI label"),
    "overridden": _private("OVERRIDDEN", "Radiologist overrode the AI label"),
}
UNITS = {
    "ml": hd.sr.CodedConcept("ml", "UCUM", "milliliter"),
    "%": hd.sr.CodedConcept("%", "UCUM", "Percent"),
    "1": hd.sr.CodedConcept("1", "UCUM", "no units"),
    "{score}": hd.sr.CodedConcept("{score}", "UCUM", "score"),
    "HU": hd.sr.CodedConcept("[hnsf'U]", "UCUM", "Hounsfield unit"),
}


@dataclass(frozen=True)
class ResultSummary:
    """What the SR reports: the stored result as the platform shows it (fractions 0–1)."""

    model_name: str
    model_version: str
    covid_probability: float
    predicted_label: str
    lung_ml: dict[str, float]  # "left", "right"
    lesion_fraction: dict[str, float]  # "left", "right"
    lesion_ml_by_lung: dict[str, dict[str, float]]  # side -> {"ggo", "consolidation"}
    lesion_hu_mean: float | None
    severity_total: int
    review_status: str  # a key of REVIEW_CODES
    revision: int


def derived_uid(study_instance_uid: str, model_reference: str, revision: int, *parts: object) -> str:
    """Return a UID that is a name-based UUID (v5) of its inputs as ``2.25.<uuid>`` (PS3.5 B.2).

    The same inputs always give the same UID; any change of an input gives another.
    """
    name = "\\".join([study_instance_uid, model_reference, str(revision), *map(str, parts)])
    return f"2.25.{uuid.uuid5(UID_NAMESPACE, name).int}"


def _algorithm(summary: ResultSummary) -> hd.AlgorithmIdentificationSequence:
    return hd.AlgorithmIdentificationSequence(name=summary.model_name, version=summary.model_version,
                                              family=codes.cid7162.ArtificialIntelligence)


def segmentation(source: Sequence[Dataset], *, left_lung: np.ndarray, right_lung: np.ndarray,
                 lesion_labels: np.ndarray, summary: ResultSummary, ggo_label: int = 1,
                 consolidation_label: int = 2) -> hd.seg.Segmentation:
    """Build the SEG: segments 1 left lung, 2 right lung, 3 GGO, 4 consolidation.

    Parameters
    ----------
    source : the CT slices in the order of the masks' first axis.
    left_lung, right_lung : boolean ``(z, y, x)`` masks, aligned with ``source``.
    lesion_labels : ``(z, y, x)`` labels (``ggo_label``, ``consolidation_label``, 0 none).
    """
    study_uid = str(source[0].StudyInstanceUID)
    reference = f"{summary.model_name}/{summary.model_version}"
    masks = np.stack([left_lung, right_lung, lesion_labels == ggo_label, lesion_labels == consolidation_label],
                     axis=-1)
    algorithm = _algorithm(summary)
    structure, abnormal = codes.SCT.AnatomicalStructure, codes.SCT.MorphologicallyAbnormalStructure
    descriptions = [
        hd.seg.SegmentDescription(segment_number=number, segment_label=label, segmented_property_category=category,
                                  segmented_property_type=kind,
                                  algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                                  algorithm_identification=algorithm)
        for number, (label, category, kind) in enumerate([
            ("Left lung", structure, LEFT_LUNG), ("Right lung", structure, RIGHT_LUNG),
            ("Ground glass opacity", abnormal, GGO), ("Consolidation", abnormal, CONSOLIDATION)], start=1)
    ]
    return hd.seg.Segmentation(
        source_images=list(source), pixel_array=masks, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=derived_uid(study_uid, reference, 0, "seg-series"),
        series_number=SEG_SERIES_NUMBER, sop_instance_uid=derived_uid(study_uid, reference, 0, "seg"),
        instance_number=1, manufacturer=MANUFACTURER, manufacturer_model_name=summary.model_name,
        software_versions=summary.model_version, device_serial_number="0", series_description="AI lung and lesions",
        omit_empty_frames=False, transfer_syntax_uid=ExplicitVRLittleEndian,
    )


def _measurement(name, value: float, unit: str, summary: ResultSummary) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=name, value=float(value), unit=UNITS[unit], algorithm_id=_algorithm_id(summary))


def _algorithm_id(summary: ResultSummary) -> hd.sr.AlgorithmIdentification:
    return hd.sr.AlgorithmIdentification(name=summary.model_name, version=summary.model_version)


def structured_report(source: Sequence[Dataset], *, seg: hd.seg.Segmentation,
                      summary: ResultSummary) -> hd.sr.Comprehensive3DSR:
    """Build the TID 1500 measurement report of the result (see the module docstring)."""
    study_uid = str(source[0].StudyInstanceUID)
    reference = f"{summary.model_name}/{summary.model_version}"
    uid = lambda *parts: derived_uid(study_uid, reference, summary.revision, *parts)  # noqa: E731
    label_code = CLASS_CODES.get(summary.predicted_label.lower(), _private(summary.predicted_label[:16].upper(),
                                                                          summary.predicted_label))
    measurements = [_measurement(COVID_PROBABILITY, summary.covid_probability, "1", summary),
                    _measurement(SEVERITY_SCORE, summary.severity_total, "{score}", summary)]
    if summary.lesion_hu_mean is not None:
        measurements.append(hd.sr.Measurement(name=codes.SCT.Mean, value=float(summary.lesion_hu_mean),
                                              unit=UNITS["HU"], algorithm_id=_algorithm_id(summary),
                                              finding_sites=[hd.sr.FindingSite(codes.SCT.Lesion)]))
    study_group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=uid("tracking", "study"), identifier="AI study result"),
        finding_type=COVID19, algorithm_id=_algorithm_id(summary), measurements=measurements,
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(PREDICTED_CLASS, label_code),
            hd.sr.QualitativeEvaluation(REVIEW_STATUS, REVIEW_CODES[summary.review_status]),
        ])
    groups = [study_group]
    for number, (side, site) in enumerate([("left", LEFT_LUNG), ("right", RIGHT_LUNG)], start=1):
        lesions = summary.lesion_ml_by_lung[side]
        groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=uid("tracking", side), identifier=f"{side} lung"),
            referenced_segment=hd.sr.ReferencedSegment.from_segmentation(seg, segment_number=number),
            finding_type=site, algorithm_id=_algorithm_id(summary), finding_sites=[hd.sr.FindingSite(site)],
            measurements=[
                _measurement(codes.SCT.Volume, summary.lung_ml[side], "ml", summary),
                _measurement(LESION_PERCENT, 100.0 * summary.lesion_fraction[side], "%", summary),
                hd.sr.Measurement(name=codes.SCT.Volume, value=float(lesions["ggo"]), unit=UNITS["ml"],
                                  algorithm_id=_algorithm_id(summary), finding_sites=[hd.sr.FindingSite(GGO)]),
                hd.sr.Measurement(name=codes.SCT.Volume, value=float(lesions["consolidation"]), unit=UNITS["ml"],
                                  algorithm_id=_algorithm_id(summary),
                                  finding_sites=[hd.sr.FindingSite(CONSOLIDATION)]),
            ]))
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=derived_uid(reference, reference, 0, "device"), name=summary.model_name,
            model_name=summary.model_version, manufacturer_name=MANUFACTURER))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=CT_OF_CHEST, imaging_measurements=groups)
    return hd.sr.Comprehensive3DSR(
        evidence=[*source, seg], content=report, series_instance_uid=uid("sr-series"),
        series_number=SR_SERIES_NUMBER, sop_instance_uid=uid("sr"), instance_number=summary.revision + 1,
        manufacturer=MANUFACTURER, is_complete=True, series_description="AI COVID-19 triage report")


def patient_orientation(dataset: Dataset) -> tuple[str, str]:
    """Return Patient Orientation (0020,0020) of the row and column directions from (0020,0037)."""
    cosines = np.asarray(dataset.get("ImageOrientationPatient", [1, 0, 0, 0, 1, 0]), dtype=float)

    def label(direction: np.ndarray) -> str:
        axis = int(np.argmax(np.abs(direction)))
        return ("LR", "PA", "HF")[axis][0 if direction[axis] > 0 else 1]

    return label(cosines[:3]), label(cosines[3:])


def key_images(source: Sequence[Dataset], *, images: Sequence[tuple[int, np.ndarray]],
               summary: ResultSummary) -> list[hd.sc.SCImage]:
    """Build one RGB Secondary Capture per ``(slice index, rgb uint8 (rows, columns, 3))`` Grad-CAM image."""
    study_uid = str(source[0].StudyInstanceUID)
    reference = f"{summary.model_name}/{summary.model_version}"
    series_uid = derived_uid(study_uid, reference, 0, "sc-series")
    out = []
    for number, (index, rgb) in enumerate(images, start=1):
        image = hd.sc.SCImage.from_ref_dataset(
            ref_dataset=source[index], pixel_array=np.ascontiguousarray(rgb, dtype=np.uint8),
            photometric_interpretation=hd.PhotometricInterpretationValues.RGB, bits_allocated=8,
            coordinate_system=hd.CoordinateSystemNames.PATIENT,
            patient_orientation=patient_orientation(source[index]), series_instance_uid=series_uid, series_number=SC_SERIES_NUMBER,
            sop_instance_uid=derived_uid(study_uid, reference, 0, "sc", index), instance_number=number,
            manufacturer=MANUFACTURER, transfer_syntax_uid=ExplicitVRLittleEndian,
            series_description="AI Grad-CAM key images")
        image.BodyPartExamined = "CHEST"  # (0018,0015): unpaired, so Laterality (0020,0060) stays absent
        image.ImageComments = f"Grad-CAM of {summary.model_name} {summary.model_version} on slice {index + 1}"
        out.append(image)
    return out
