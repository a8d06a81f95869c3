"""De-identify DICOM instances and metadata for research exports; pydicom only, no Django.

Implements the DICOM PS3.15 Annex E *Basic Application Level Confidentiality Profile*
(Table E.1-1, "Basic Profile" column) for the attributes that occur in CT studies, with
these documented choices:

- **Actions** come from :data:`PROFILE_ACTIONS` (data, not code): ``X`` remove, ``Z`` empty
  (type-2 attributes keep a zero-length value), ``D`` replace with a dummy, ``U`` remap the
  UID. ``C`` (clean) attributes such as (0008,1030) *Study Description* and (0008,103E)
  *Series Description* are removed (``X``): free text may hold names.
- **Patient characteristics**: (0010,0040) *Patient's Sex* is emptied and (0010,1010)
  *Patient's Age*, size and weight are removed, as the basic profile says. With
  ``retain_patient_characteristics=True`` they are kept and the *Retain Patient
  Characteristics Option* (113108) is declared.
- **Identifiers**: (0010,0020) *Patient ID* and (0008,0050) *Accession Number* are replaced
  with a keyed-hash dummy (allowed by ``Z``: "a non-zero length dummy value consistent with
  the VR"), so the instances of one patient or order still group together within an export.
  (0010,0010) *Patient's Name* and (0008,0090) *Referring Physician's Name* become empty.
- **Dates and times are removed, not shifted**: type-2 ones (Study Date/Time, Content
  Date/Time, Patient's Birth Date) become empty, every other DA/DT/TM element anywhere is
  removed, and (0028,0303) *Longitudinal Temporal Information Modified* is ``REMOVED``.
- **UIDs** — every UI element whose value is not a UID defined by the standard (SOP classes,
  transfer syntaxes, coding schemes stay) — are remapped with :func:`remap_uid`: an
  HMAC-SHA256 of the UID under the export's secret key, written as ``2.25.<uuid-int>``. The
  same UID maps to the same new UID within an export (same key), so Study/Series/SOP Instance,
  Frame of Reference, (0008,1155) *Referenced SOP Instance UID* inside sequences and
  (0002,0003) *Media Storage SOP Instance UID* stay consistent; without the key the mapping
  cannot be reversed or recomputed.
- **Catch-alls**: all private tags, public tags unknown to the data dictionary, every PN
  element not listed, curves (50xx,eeee) and the whole overlay groups (60xx,eeee) — not just
  Overlay Data and Overlay Comments, so no dangling overlay planes remain — are removed.
  Sequences not listed are de-identified item by item, recursively.
- (0012,0062) *Patient Identity Removed* = ``YES``, (0012,0063) *De-identification Method* and
  (0012,0064) *De-identification Method Code Sequence* (113100 DCM "Basic Application
  Confidentiality Profile") are set.

Pixel data is never touched. **Burned-in annotation risk:** names or dates drawn into the
pixels survive any header de-identification. An instance with (0028,0301) *Burned In
Annotation* = ``YES`` is refused (:class:`BurnedInAnnotationRefused`). Absent that attribute
the risk is not excluded (CT scanners rarely burn text into axial images; secondary captures
and dose screens do), so exports must be limited to original axial CT images.
"""
from __future__ import annotations

import copy
import hashlib
import hmac
import io
import uuid
from collections.abc import Mapping
from enum import Enum
from typing import Any

import pydicom
from pydicom.datadict import dictionary_VR, keyword_dict, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag, Tag
from pydicom.uid import UID_dictionary

MIN_KEY_BYTES = 16
DUMMY_PREFIX = "ANON"
DUMMY_HEX_CHARS = 12  # "ANON" + 12 hex = 16 characters, fits SH (Accession Number) and LO
DEIDENTIFICATION_METHOD = "PS3.15 E.1 Basic Application Confidentiality Profile; CT Triage"
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
RETAIN_PATIENT_CHARACTERISTICS_CODE = ("113108", "DCM", "Retain Patient Characteristics Option")

SHORT_KEY_MSG = "The export key must be at least {min_bytes} bytes."
BURNED_IN_MSG = "Burned In Annotation (0028,0301) is YES: pixel data may show identifiers; not exported."


class BurnedInAnnotationRefused(ValueError):
    """The instance declares text burned into its pixels; header de-identification cannot help."""


class Action(str, Enum):
    """PS3.15 Table E.1-1 action codes (``C`` is applied as ``X``)."""

    REMOVE = "X"
    EMPTY = "Z"
    DUMMY = "D"
    KEEP = "K"
    UID = "U"


X, Z, D, K, U = Action.REMOVE, Action.EMPTY, Action.DUMMY, Action.KEEP, Action.UID

# Basic Profile actions for the attributes that matter for CT, by keyword (tag in the comment
# where it helps review). Attributes not listed fall through to the catch-alls described in
# the module docstring.
PROFILE_ACTIONS: dict[str, Action] = {
    # Patient
    "PatientName": Z,  # (0010,0010)
    "PatientID": D,  # (0010,0020) Z in the profile; a keyed dummy keeps per-patient grouping
    "IssuerOfPatientID": X,
    "IssuerOfPatientIDQualifiersSequence": X,
    "PatientBirthDate": Z,  # (0010,0030)
    "PatientBirthTime": X,
    "PatientBirthName": X,
    "PatientMotherBirthName": X,
    "PatientSex": Z,  # (0010,0040)
    "PatientAge": X,  # (0010,1010)
    "PatientSize": X,
    "PatientWeight": X,
    "PatientSexNeutered": X,
    "OtherPatientIDs": X,  # (0010,1000)
    "OtherPatientNames": X,
    "OtherPatientIDsSequence": X,
    "PatientAddress": X,  # (0010,1040)
    "PatientTelephoneNumbers": X,  # (0010,2154)
    "PatientTelecomInformation": X,
    "MilitaryRank": X,
    "BranchOfService": X,
    "MedicalRecordLocator": X,
    "EthnicGroup": X,
    "Occupation": X,
    "AdditionalPatientHistory": X,
    "PatientComments": X,
    "SmokingStatus": X,
    "MedicalAlerts": X,
    "Allergies": X,
    "PregnancyStatus": X,
    "LastMenstrualDate": X,
    "SpecialNeeds": X,
    "PatientState": X,
    "PatientReligiousPreference": X,
    "CountryOfResidence": X,
    "RegionOfResidence": X,
    "PatientInsurancePlanCodeSequence": X,
    "PatientPrimaryLanguageCodeSequence": X,
    "ResponsiblePerson": X,
    "ResponsibleOrganization": X,
    "ReferencedPatientSequence": X,
    "ReferencedPatientPhotoSequence": X,
    # Study, visit and request
    "StudyInstanceUID": U,  # (0020,000D)
    "StudyDate": Z,  # (0008,0020)
    "StudyTime": Z,  # (0008,0030)
    "AccessionNumber": D,  # (0008,0050) Z in the profile; keyed dummy, see module docstring
    "IssuerOfAccessionNumberSequence": X,
    "StudyID": Z,  # (0020,0010)
    "StudyDescription": X,  # (0008,1030) C: free text
    "StudyComments": X,
    "ReferringPhysicianName": Z,  # (0008,0090)
    "ReferringPhysicianAddress": X,
    "ReferringPhysicianTelephoneNumbers": X,
    "ReferringPhysicianIdentificationSequence": X,
    "ConsultingPhysicianName": X,
    "PhysiciansOfRecord": X,
    "PhysiciansOfRecordIdentificationSequence": X,
    "NameOfPhysiciansReadingStudy": X,  # (0008,1060)
    "PhysiciansReadingStudyIdentificationSequence": X,
    "RequestingPhysician": X,
    "RequestingService": X,
    "AdmittingDiagnosesDescription": X,
    "AdmittingDiagnosesCodeSequence": X,
    "AdmissionID": X,
    "IssuerOfAdmissionIDSequence": X,
    "DischargeDiagnosisDescription": X,
    "ServiceEpisodeID": X,
    "ServiceEpisodeDescription": X,
    "CurrentPatientLocation": X,
    "PatientInstitutionResidence": X,
    "VisitComments": X,
    "ReasonForStudy": X,
    "RequestedProcedureDescription": X,
    "RequestedProcedureID": X,
    "ReasonForTheRequestedProcedure": X,
    "RequestAttributesSequence": X,
    "ProcedureCodeSequence": X,
    "ReferencedStudySequence": X,
    "OrderEnteredBy": X,
    "OrderEntererLocation": X,
    "OrderCallbackPhoneNumber": X,
    "PlacerOrderNumberImagingServiceRequest": X,
    "FillerOrderNumberImagingServiceRequest": X,
    "ImagingServiceRequestComments": X,
    # Series, equipment and acquisition
    "SeriesInstanceUID": U,  # (0020,000E)
    "SOPInstanceUID": U,  # (0008,0018)
    "FrameOfReferenceUID": U,  # (0020,0052)
    "ReferencedSOPInstanceUID": U,  # (0008,1155), inside reference sequences
    "MediaStorageSOPInstanceUID": U,  # (0002,0003)
    "InstanceCreatorUID": U,
    "DeviceUID": U,
    "IrradiationEventUID": U,
    "SeriesDescription": X,  # (0008,103E) C: free text
    "ContentDate": Z,  # (0008,0023)
    "ContentTime": Z,  # (0008,0033)
    "OperatorsName": X,  # (0008,1070)
    "OperatorIdentificationSequence": X,
    "PerformingPhysicianName": X,  # (0008,1050)
    "PerformingPhysicianIdentificationSequence": X,
    "InstitutionName": X,  # (0008,0080)
    "InstitutionAddress": X,  # (0008,0081)
    "InstitutionalDepartmentName": X,
    "InstitutionCodeSequence": X,
    "StationName": X,  # (0008,1010)
    "DeviceSerialNumber": X,  # (0018,1000)
    "DetectorID": X,
    "GantryID": X,
    "PlateID": X,
    "ProtocolName": X,  # C: free text
    "PerformedProcedureStepID": X,
    "PerformedProcedureStepDescription": X,
    "PerformedLocation": X,
    "PerformedStationName": X,
    "PerformedStationAETitle": X,
    "ScheduledProcedureStepDescription": X,
    "ScheduledProcedureStepID": X,
    "ScheduledPerformingPhysicianName": X,
    "ReferencedPerformedProcedureStepSequence": X,
    "AcquisitionComments": X,
    "ImageComments": X,
    "FrameComments": X,
    "DerivationDescription": X,
    "TextComments": X,
    "TimezoneOffsetFromUTC": X,
    "SourceApplicationEntityTitle": X,  # (0002,0016) file meta: the sender's AE title
    # Copies of the original attributes and signatures over them
    "OriginalAttributesSequence": X,
    "ModifiedAttributesSequence": X,
    "DigitalSignaturesSequence": X,
    "MACParametersSequence": X,
    "EncryptedAttributesSequence": X,
}

# Retain Patient Characteristics Option (PS3.15 E.3.8): these are kept when asked to.
PATIENT_CHARACTERISTICS = ("PatientSex", "PatientAge", "PatientSize", "PatientWeight", "PatientSexNeutered")
DATE_TIME_VRS = ("DA", "DT", "TM")
CURVE_GROUPS = range(0x5000, 0x5020, 2)
OVERLAY_GROUPS = range(0x6000, 0x6020, 2)

_TAG_ACTIONS: dict[BaseTag, Action] = {Tag(tag_for_keyword(kw)): action for kw, action in PROFILE_ACTIONS.items()}
_KEYWORD_BY_FOLDED = {kw.replace("_", "").lower(): kw for kw in keyword_dict}


def _check_key(key: bytes) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(SHORT_KEY_MSG.format(min_bytes=MIN_KEY_BYTES))


def _keyed_digest(value: str, *, key: bytes, domain: str) -> bytes:
    return hmac.new(key, f"{domain}:{value}".encode(), hashlib.sha256).digest()


def is_standard_uid(value: str) -> bool:
    """True for UIDs the standard defines (SOP classes, transfer syntaxes…), which carry no identity."""
    return value in UID_dictionary


def remap_uid(uid: str, *, key: bytes) -> str:
    """Return ``2.25.<int>`` derived from HMAC-SHA256(key, uid): consistent per key, not reversible.

    The first 128 bits of the MAC are shaped into a version-4 UUID, so the result is a valid
    UUID-derived UID (ITU-T X.667) of at most 44 characters.
    """
    _check_key(key)
    uid = uid.strip().rstrip("\x00")
    if not uid or is_standard_uid(uid):
        return uid
    as_uuid = uuid.UUID(bytes=_keyed_digest(uid, key=key, domain="uid")[:16], version=4)
    return f"2.25.{as_uuid.int}"


def dummy_identifier(value: str, *, key: bytes) -> str:
    """Return ``ANON`` + 12 hex characters of HMAC-SHA256(key, value); empty stays empty."""
    _check_key(key)
    value = str(value).strip()
    if not value:
        return ""
    return DUMMY_PREFIX + _keyed_digest(value, key=key, domain="id").hex()[:DUMMY_HEX_CHARS].upper()


def _action_for(element: DataElement, *, retain: frozenset[str]) -> Action:
    """Decide the action for one element: the profile table first, then the catch-alls."""
    tag = element.tag
    if tag.is_private or tag.group in CURVE_GROUPS or tag.group in OVERLAY_GROUPS:
        return X
    if element.keyword in retain:
        return K
    if tag in _TAG_ACTIONS:
        return _TAG_ACTIONS[tag]
    if tag.element == 0 or not element.keyword:  # group lengths; public tags unknown to the dictionary
        return X
    if element.VR == "UI":
        return U
    if element.VR == "PN" or element.VR in DATE_TIME_VRS:
        return X
    return K


def _remap_uid_value(value: Any, *, key: bytes) -> Any:
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return [remap_uid(str(v), key=key) for v in value]
    return remap_uid(str(value), key=key) if value else value


def _dummy_value(element: DataElement, *, key: bytes) -> str:
    return dummy_identifier(str(element.value or ""), key=key)


def _deidentify_in_place(ds: Dataset, *, key: bytes, retain: frozenset[str]) -> None:
    for tag in list(ds.keys()):
        element = ds[tag]
        action = _action_for(element, retain=retain)
        if action is X:
            del ds[tag]
        elif action is Z:
            element.value = DicomSequence() if element.VR == "SQ" else ""
        elif action is D:
            element.value = _dummy_value(element, key=key)
        elif action is U:
            element.value = _remap_uid_value(element.value, key=key)
        elif element.VR == "SQ":
            for item in element.value:
                _deidentify_in_place(item, key=key, retain=retain)


def _code_item(code: tuple[str, str, str]) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code
    return item


def deidentify_dataset(
    ds: Dataset, *, key: bytes, retain_patient_characteristics: bool = False
) -> Dataset:
    """Return a de-identified copy of ``ds`` (file meta included); ``ds`` is not modified.

    Raises
    ------
    BurnedInAnnotationRefused
        (0028,0301) *Burned In Annotation* is ``YES``.
    ValueError
        ``key`` is shorter than 16 bytes.
    """
    _check_key(key)
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        raise BurnedInAnnotationRefused(BURNED_IN_MSG)
    retain = frozenset(PATIENT_CHARACTERISTICS if retain_patient_characteristics else ())
    out = copy.deepcopy(ds)
    _deidentify_in_place(out, key=key, retain=retain)
    if getattr(out, "file_meta", None) is not None:
        _deidentify_in_place(out.file_meta, key=key, retain=retain)
    codes = [BASIC_PROFILE_CODE] + ([RETAIN_PATIENT_CHARACTERISTICS_CODE] if retain else [])
    out.PatientIdentityRemoved = "YES"  # (0012,0062)
    out.DeidentificationMethod = DEIDENTIFICATION_METHOD  # (0012,0063)
    out.DeidentificationMethodCodeSequence = DicomSequence([_code_item(code) for code in codes])  # (0012,0064)
    out.LongitudinalTemporalInformationModified = "REMOVED"  # (0028,0303)
    return out


def deidentify_bytes(data: bytes, *, key: bytes, retain_patient_characteristics: bool = False) -> bytes:
    """De-identify one DICOM Part 10 file given as bytes and return the new file's bytes."""
    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    out = deidentify_dataset(ds, key=key, retain_patient_characteristics=retain_patient_characteristics)
    buffer = io.BytesIO()
    out.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def keyword_for(name: str) -> str | None:
    """Map ``"patient_name"`` or ``"PatientName"`` to the DICOM keyword; ``None`` if not DICOM."""
    return _KEYWORD_BY_FOLDED.get(name.replace("_", "").lower())


def deidentify_metadata(
    metadata: Mapping[str, Any], *, key: bytes, retain_patient_characteristics: bool = False
) -> dict[str, Any]:
    """Apply the same profile to a flat metadata dict (CSV/JSON research exports).

    Keys may be DICOM keywords (``"AccessionNumber"``) or their snake_case form
    (``"accession_number"``, as on the Study model). ``X`` keys are dropped, ``Z`` values
    become ``""`` (``None`` for dates and non-strings), ``D`` values a keyed dummy and ``U``
    values are remapped exactly as in :func:`deidentify_dataset`, so exported rows join to
    exported files. Keys that are not DICOM keywords (derived values such as
    ``lesion_volume_ml``) are passed through unchanged: callers must not put free text there.
    """
    _check_key(key)
    retain = frozenset(PATIENT_CHARACTERISTICS if retain_patient_characteristics else ())
    out: dict[str, Any] = {}
    for name, value in metadata.items():
        keyword = keyword_for(name)
        if keyword is None:
            out[name] = value
            continue
        tag = Tag(tag_for_keyword(keyword))
        vr = dictionary_VR(tag)
        element = DataElement(tag, vr, None)
        action = _action_for(element, retain=retain)
        if action is X:
            continue
        if action is Z:
            out[name] = "" if isinstance(value, str) and vr not in DATE_TIME_VRS else None
        elif action is D:
            out[name] = dummy_identifier(str(value or ""), key=key)
        elif action is U:
            out[name] = _remap_uid_value(value, key=key)
        else:
            out[name] = value
    return out
