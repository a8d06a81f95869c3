"""PS3.15 Basic Profile de-identification: no PHI survives, UIDs remap consistently per key."""
import io
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import CTImageStorage, generate_uid

from triage.monitoring.deidentify import (
    BASIC_PROFILE_CODE,
    BurnedInAnnotationRefused,
    deidentify_bytes,
    deidentify_dataset,
    deidentify_metadata,
    dummy_identifier,
    remap_uid,
)

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
PHI = {
    "PatientName": "Doe^Jane^Quincy",
    "PatientID": "MRN-7788123",
    "PatientBirthDate": "19610417",
    "OtherPatientIDs": "ALT-55511",
    "PatientAddress": "42 Wallaby Way Sydney",
    "PatientTelephoneNumbers": "+44 20 7946 0958",
    "AccessionNumber": "ACC90817",
    "InstitutionName": "Saint Elsewhere General",
    "InstitutionAddress": "1 Hospital Road Springfield",
    "ReferringPhysicianName": "House^Gregory",
    "PerformingPhysicianName": "Quinn^Michaela",
    "NameOfPhysiciansReadingStudy": "Grey^Meredith",
    "OperatorsName": "Tech^Tina",
    "StationName": "CTSCANNER-WARD7",
    "DeviceSerialNumber": "SN-44XZ-0091",
    "StudyDescription": "CT chest for Jane Doe",
    "SeriesDescription": "Axial Doe lung",
    "StudyID": "STUDY5521",
    "StudyDate": "20200315",
    "SeriesDate": "20200316",
    "AcquisitionDateTime": "20200317083000",
}
NESTED_NAME = "Nested^Observer^Secret"
NESTED_REQUEST_ID = "REQ-NESTED-0042"
PRIVATE_VALUE = "PRIVATE-PATIENT-NOTE-9931"


@pytest.fixture(scope="module")
def phantom_files(tmp_path_factory) -> list[Path]:
    from inference.phantom import write_phantom_series

    out = tmp_path_factory.mktemp("phantom")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        info = write_phantom_series(out, slices=8, size_px=64, severity="none", seed=3)
    return [Path(f) for f in info.files[:2]]


def with_phi(path: Path) -> Dataset:
    """Load a phantom slice and fill it with identifiers, in a sequence and a private tag too."""
    ds = pydicom.dcmread(path)
    for keyword, value in PHI.items():
        setattr(ds, keyword, value)
    ds.PatientAge = "061Y"
    ds.PatientSex = "F"
    reference = Dataset()
    reference.ReferencedSOPClassUID = CTImageStorage
    reference.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    reference.VerifyingObserverName = NESTED_NAME
    reference.RequestedProcedureID = NESTED_REQUEST_ID
    ds.ReferencedImageSequence = DicomSequence([reference])
    block = ds.private_block(0x0011, "ACME HOSPITAL", create=True)
    block.add_new(0x01, "LO", PRIVATE_VALUE)
    return ds


def to_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def phi_strings(ds: Dataset) -> list[str]:
    return [*PHI.values(), NESTED_NAME, NESTED_REQUEST_ID, PRIVATE_VALUE, "ACME HOSPITAL", "Doe",
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.FrameOfReferenceUID]


def test_deidentify_bytes__no_phi_value_survives_anywhere(phantom_files):
    original = with_phi(phantom_files[0])
    data = to_bytes(original)
    assert all(s.encode() in data for s in phi_strings(original))  # the test data really holds them

    output = deidentify_bytes(data, key=KEY)

    survivors = [s for s in phi_strings(original) if s.encode() in output]
    assert survivors == []


def test_deidentify_dataset__sets_profile_attributes(phantom_files):
    out = deidentify_dataset(with_phi(phantom_files[0]), key=KEY)

    assert out.PatientIdentityRemoved == "YES"
    assert "Basic Application Confidentiality Profile" in out.DeidentificationMethod
    code = out.DeidentificationMethodCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning) == BASIC_PROFILE_CODE
    assert out.PatientName == "" and out.StudyDate == "" and out.PatientSex == ""
    assert "PatientAge" not in out and "SeriesDate" not in out and "InstitutionName" not in out
    assert out.AccessionNumber == dummy_identifier(PHI["AccessionNumber"], key=KEY)
    assert out.PatientID == dummy_identifier(PHI["PatientID"], key=KEY)
    assert not any(element.tag.is_private for element in out.iterall())


def test_deidentify_dataset__retain_patient_characteristics_keeps_sex_and_age(phantom_files):
    out = deidentify_dataset(with_phi(phantom_files[0]), key=KEY, retain_patient_characteristics=True)

    assert (out.PatientSex, out.PatientAge) == ("F", "061Y")
    assert [c.CodeValue for c in out.DeidentificationMethodCodeSequence] == ["113100", "113108"]


def test_deidentify_dataset__remaps_uids_consistently_across_instances(phantom_files):
    first, second = (with_phi(p) for p in phantom_files)
    out_first, out_second = (deidentify_dataset(ds, key=KEY) for ds in (first, second))

    assert out_first.StudyInstanceUID == out_second.StudyInstanceUID != first.StudyInstanceUID
    assert out_first.SeriesInstanceUID == out_second.SeriesInstanceUID != first.SeriesInstanceUID
    assert out_first.FrameOfReferenceUID == out_second.FrameOfReferenceUID != first.FrameOfReferenceUID
    assert out_first.SOPInstanceUID != out_second.SOPInstanceUID
    assert out_first.file_meta.MediaStorageSOPInstanceUID == out_first.SOPInstanceUID
    assert out_first.ReferencedImageSequence[0].ReferencedSOPInstanceUID == out_first.SOPInstanceUID
    assert out_first.SOPClassUID == CTImageStorage  # standard UIDs are not identities
    assert out_first.StudyInstanceUID.startswith("2.25.") and len(out_first.StudyInstanceUID) <= 64


def test_remap_uid__same_key_same_mapping_other_key_other_mapping():
    uid = generate_uid()

    assert remap_uid(uid, key=KEY) == remap_uid(uid, key=bytes(KEY))
    assert remap_uid(uid, key=KEY) != remap_uid(uid, key=OTHER_KEY)
    assert remap_uid(uid, key=KEY) != remap_uid(generate_uid(), key=KEY)


def test_remap_uid__rejects_short_key():
    with pytest.raises(ValueError, match="at least 16 bytes"):
        remap_uid(generate_uid(), key=b"short")


def test_deidentify_bytes__pixel_data_unchanged_and_readable(phantom_files):
    original = with_phi(phantom_files[0])

    out = pydicom.dcmread(io.BytesIO(deidentify_bytes(to_bytes(original), key=KEY)))

    assert out.PixelData == original.PixelData
    assert (out.pixel_array == original.pixel_array).all()
    assert out.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID


def test_deidentify_dataset__does_not_modify_input(phantom_files):
    original = with_phi(phantom_files[0])

    deidentify_dataset(original, key=KEY)

    assert original.PatientName == PHI["PatientName"]
    assert original.ReferencedImageSequence[0].VerifyingObserverName == NESTED_NAME


def test_deidentify_dataset__refuses_burned_in_annotation(phantom_files):
    ds = with_phi(phantom_files[0])
    ds.BurnedInAnnotation = "YES"

    with pytest.raises(BurnedInAnnotationRefused):
        deidentify_dataset(ds, key=KEY)


def test_deidentify_dataset__removes_curves_and_overlays(phantom_files):
    ds = with_phi(phantom_files[0])
    ds.add_new(0x60003000, "OW", b"\x01\x00" * 8)
    ds.add_new(0x60004000, "LT", "overlay says Doe")
    ds.add_new(0x50003000, "OW", b"\x02\x00" * 4)

    out = deidentify_dataset(ds, key=KEY)

    assert not [e.tag for e in out if e.tag.group in (0x5000, 0x6000)]


def test_deidentify_metadata__applies_profile_to_snake_case_and_keywords():
    uid = generate_uid()
    metadata = {
        "patient_name": "Doe^Jane", "PatientID": "MRN-1", "accession_number": "ACC-1", "study_instance_uid": uid,
        "study_date": "20200101", "study_description": "Jane's chest", "patient_age": "061Y",
        "lesion_volume_ml": 12.5, "modality": "CT",
    }

    out = deidentify_metadata(metadata, key=KEY)

    assert out == {
        "patient_name": "", "PatientID": dummy_identifier("MRN-1", key=KEY),
        "accession_number": dummy_identifier("ACC-1", key=KEY), "study_instance_uid": remap_uid(uid, key=KEY),
        "study_date": None, "lesion_volume_ml": 12.5, "modality": "CT",
    }
