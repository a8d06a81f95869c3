import io

import pytest

from triage.gateway.exceptions import MalformedChunkedBody
from triage.gateway.http_body import ChunkedReader, is_chunked


def chunked(*chunks: bytes, trailer: bytes = b"") -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n" + trailer + b"\r\n"


@pytest.mark.parametrize("read_size", [-1, 1, 3, 1000])
def test_chunked_reader__returns_the_data_of_every_chunk(read_size):
    raw = io.BytesIO(chunked(b"hello ", b"chunked\r\n", b"world", trailer=b"X-Checksum: 1\r\n") + b"NEXT REQUEST")
    reader = ChunkedReader(raw)

    out = b""
    while data := reader.read(read_size):
        out += data

    assert out == b"hello chunked\r\nworld"
    assert raw.read() == b"NEXT REQUEST"  # a kept-alive connection is left at the next request


def test_chunked_reader__ignores_chunk_extensions():
    assert ChunkedReader(io.BytesIO(b"5;name=value\r\nhello\r\n0\r\n\r\n")).read() == b"hello"


@pytest.mark.parametrize("raw, detail", [
    (b"zz\r\nhello\r\n0\r\n\r\n", "not a hexadecimal number"),
    (b"a\r\nhello", "ends inside a chunk"),
    (b"5\r\nhelloXX0\r\n\r\n", "not followed by CRLF"),
    (b"5\r\nhello\r\n", "missing, unterminated or too long"),
])
def test_chunked_reader__malformed_body_names_the_fault(raw, detail):
    with pytest.raises(MalformedChunkedBody, match=detail):
        ChunkedReader(io.BytesIO(raw)).read()


@pytest.mark.parametrize("header, expected", [("chunked", True), ("gzip, chunked", True), ("Chunked", True),
                                              ("", False), ("chunked, gzip", False)])
def test_is_chunked__reads_the_last_transfer_coding(header, expected):
    assert is_chunked({"HTTP_TRANSFER_ENCODING": header}) is expected
