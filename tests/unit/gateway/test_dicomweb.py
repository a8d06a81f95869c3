import pytest

from triage.gateway import dicomweb
from triage.gateway.dicomweb import InstanceOutcome, failure_status_for, stow_http_status, stow_response
from triage.studies import dicom_headers, uploads


@pytest.mark.parametrize("reason, status", [
    (dicom_headers.NOT_DICOM_MSG, dicomweb.CANNOT_UNDERSTAND),
    (dicom_headers.TRUNCATED_MSG, dicomweb.CANNOT_UNDERSTAND),
    (dicom_headers.WRONG_MODALITY_MSG.format(modality="MR"), dicomweb.DATA_SET_DOES_NOT_MATCH_SOP_CLASS),
    (dicom_headers.MISSING_TAG_MSG.format(keyword="Rows", tag="(0028,0010)"), dicomweb.DATA_SET_DOES_NOT_MATCH_SOP_CLASS),
    (uploads.ENTRY_TOO_LARGE_MSG.format(limit_mb=64), dicomweb.OUT_OF_RESOURCES),
    ("Something nobody anticipated.", dicomweb.PROCESSING_FAILURE),
])
def test_failure_status_for__maps_ingest_reasons_to_dicom_codes(reason, status):
    assert failure_status_for(reason) == status


def test_stow_response__lists_stored_and_failed_instances_as_dicom_json():
    outcomes = [InstanceOutcome("1.2.840.10008.5.1.4.1.1.2", "1.2.3.1"),
                InstanceOutcome("1.2.840.10008.5.1.4.1.1.4", "1.2.3.2", dicomweb.DATA_SET_DOES_NOT_MATCH_SOP_CLASS)]

    body = stow_response(outcomes)

    assert body["00081199"]["vr"] == "SQ"
    [stored] = body["00081199"]["Value"]
    assert stored["00081155"] == {"vr": "UI", "Value": ["1.2.3.1"]}
    assert "00081197" not in stored
    [failed] = body["00081198"]["Value"]
    assert failed["00081150"] == {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.4"]}
    assert failed["00081197"] == {"vr": "US", "Value": [0xA900]}


@pytest.mark.parametrize("failures, status", [((None, None), 200), ((None, 0xA900), 202), ((0xC000, 0xA900), 409)])
def test_stow_http_status__200_all_stored_202_some_failed_409_all_failed(failures, status):
    assert stow_http_status([InstanceOutcome("1.2", f"1.2.{i}", f) for i, f in enumerate(failures)]) == status


def test_stow_warning__one_value_per_distinct_reason_with_its_count():
    outcomes = [InstanceOutcome("1.2", "1.3", 0xA900, "Required tag SOPInstanceUID (0008,0018) is missing."),
                InstanceOutcome("1.2", "1.4", 0xA900, "Required tag SOPInstanceUID (0008,0018) is missing."),
                InstanceOutcome("", "", 0xC000, 'Not a "DICOM" file.'),
                InstanceOutcome("1.2", "1.5")]

    assert dicomweb.stow_warning(outcomes) == (
        '299 - "2 instances failed with 0xA900: Required tag SOPInstanceUID (0008,0018) is missing.", '
        '299 - "1 instance failed with 0xC000: Not a \\"DICOM\\" file."')
    assert dicomweb.stow_warning(outcomes[3:]) == ""


def test_stow_response__failed_item_carries_the_reason_as_error_comment():
    body = dicomweb.stow_response([InstanceOutcome("1.2", "1.3", 0xA900, "Modality (0008,0060) is MR.")])

    assert body["00081198"]["Value"][0]["00000902"] == {"vr": "LO", "Value": ["Modality (0008,0060) is MR."]}
