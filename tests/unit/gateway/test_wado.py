import pytest

from triage.core.exceptions import NotFound
from triage.gateway import wado


@pytest.mark.parametrize("accept, expected", [
    ("", "1.2.840.10008.1.2.1"),
    ("*/*", "1.2.840.10008.1.2.1"),
    ('multipart/related; type="application/dicom"; transfer-syntax=*', "*"),
    ('multipart/related; type="image/jpeg", multipart/related; type="application/dicom"', "1.2.840.10008.1.2.1"),
])
def test_negotiate__returns_the_requested_transfer_syntax(accept, expected):
    assert wado.negotiate(accept, media_type=wado.DICOM) == expected


def test_negotiate__other_media_type_is_406():
    with pytest.raises(wado.NotAcceptable) as error:
        wado.negotiate('multipart/related; type="application/dicom+xml"', media_type=wado.DICOM)
    assert error.value.status_code == 406


def test_parse_frames__out_of_range_is_not_found():
    assert wado.parse_frames("1", frames=1) == [1]
    with pytest.raises(NotFound, match="from 1 to 1"):
        wado.parse_frames("2", frames=1)


def test_multipart_body__frames_each_part():
    body = b"".join(wado.multipart_body([b"a", b"bc"], boundary="B", part_type="application/dicom"))

    assert body == (b"--B\r\nContent-Type: application/dicom\r\n\r\na\r\n"
                    b"--B\r\nContent-Type: application/dicom\r\n\r\nbc\r\n--B--\r\n")
