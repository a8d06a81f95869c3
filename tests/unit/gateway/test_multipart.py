import io

import pytest

from triage.gateway.exceptions import MalformedMultipart
from triage.gateway.multipart import BodyTooLarge, boundary_of, iter_parts, spool_body

BOUNDARY = "b0undary"


def body_of(*contents: bytes, preamble: bytes = b"", headers: bytes = b"Content-Type: application/dicom\r\n") -> bytes:
    parts = b"".join(b"--" + BOUNDARY.encode() + b"\r\n" + headers + b"\r\n" + c + b"\r\n" for c in contents)
    return preamble + parts + b"--" + BOUNDARY.encode() + b"--\r\nepilogue"


def test_iter_parts__finds_each_part_with_its_headers():
    body = body_of(b"first\r\n--not-a-boundary", b"", b"third", preamble=b"ignored preamble\r\n")

    parts = list(iter_parts(body, boundary=BOUNDARY))

    assert [body[p.start:p.end] for p in parts] == [b"first\r\n--not-a-boundary", b"", b"third"]
    assert {p.content_type for p in parts} == {"application/dicom"}


def test_iter_parts__part_without_headers_has_empty_content_type():
    parts = list(iter_parts(body_of(b"data", headers=b""), boundary=BOUNDARY))

    assert [(p.headers, p.size_bytes) for p in parts] == [({}, 4)]


def test_iter_parts__missing_closing_boundary_is_malformed():
    body = b"--" + BOUNDARY.encode() + b"\r\nContent-Type: application/dicom\r\n\r\ntruncated"

    with pytest.raises(MalformedMultipart, match="closing boundary"):
        list(iter_parts(body, boundary=BOUNDARY))


def test_iter_parts__absent_boundary_is_malformed():
    with pytest.raises(MalformedMultipart, match="never occurs"):
        list(iter_parts(b"no multipart here", boundary=BOUNDARY))


def test_boundary_of__reads_quoted_boundary_and_rejects_missing():
    assert boundary_of('multipart/related; type="application/dicom"; boundary="a b"') == "a b"
    with pytest.raises(MalformedMultipart, match="boundary"):
        boundary_of('multipart/related; type="application/dicom"')


def test_spool_body__caps_the_body_size():
    assert spool_body(io.BytesIO(b"x" * 10), max_bytes=10).read() == b"x" * 10
    with pytest.raises(BodyTooLarge):
        spool_body(io.BytesIO(b"x" * 11), max_bytes=10)


def _dicomweb_client_framing(contents: list[bytes]) -> tuple[bytes, str]:
    from dicomweb_client.api import DICOMwebClient

    content_type = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
    return DICOMwebClient._encode_multipart_message(contents, content_type), BOUNDARY


@pytest.mark.parametrize("framing", [
    "dicomweb-client",  # a leading CRLF, no CRLF after the close delimiter
    "transport-padding",  # spaces and tabs after a delimiter (RFC 2046 5.1.1)
    "folded-header",  # a part header continued on the next line
    "quoted-boundary",  # a boundary with characters that need quoting
])
def test_iter_parts__accepts_valid_framings(framing):
    contents = [b"\x00first", b"second\r\n"]
    boundary = BOUNDARY
    if framing == "dicomweb-client":
        body, boundary = _dicomweb_client_framing(contents)
    elif framing == "transport-padding":
        body = body_of(*contents).replace(BOUNDARY.encode() + b"\r\n", BOUNDARY.encode() + b" \t \r\n")
    elif framing == "folded-header":
        body = body_of(*contents, headers=b"Content-Type:\r\n  application/dicom\r\n")
    else:
        boundary = "a b:c=d'(e)"
        body = body_of(*contents).replace(BOUNDARY.encode(), boundary.encode())
        assert boundary_of(f'multipart/related; boundary="{boundary}"') == boundary

    parts = list(iter_parts(body, boundary=boundary))

    assert [body[p.start:p.end] for p in parts] == contents
    assert {p.content_type for p in parts} == {"application/dicom"}
