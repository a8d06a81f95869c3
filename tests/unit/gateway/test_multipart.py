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
