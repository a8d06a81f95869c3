"""Read a request body however the client framed it: ``Content-Length`` or ``Transfer-Encoding: chunked``.

Django's ``WSGIRequest`` reads ``CONTENT_LENGTH`` bytes only, so a chunked body (no length, as
``dicomweb-client`` and ``requests`` send any generator or file over 1 MB) reads as empty. What the
WSGI server hands on differs:

- gunicorn (and any server that sets ``wsgi.input_terminated``) has already de-chunked the body:
  ``wsgi.input`` is read to its end.
- Django's own server (``runserver``, the test ``live_server``) passes the raw socket behind a
  zero-length ``LimitedStream``; the chunks are decoded here (RFC 9112 7.1: chunk extensions
  ignored, trailer fields read and dropped). Reading to the last chunk leaves a kept-alive
  connection at the next request.
"""
from __future__ import annotations

from typing import BinaryIO

from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest

from triage.gateway.exceptions import MalformedChunkedBody

MAX_CHUNK_LINE_BYTES = 4096  # a size line with extensions, or one trailer field


def is_chunked(environ: dict) -> bool:
    """True when the request declares ``Transfer-Encoding: chunked`` (as its last coding)."""
    codings = [c.strip().lower() for c in environ.get("HTTP_TRANSFER_ENCODING", "").split(",")]
    return codings[-1] == "chunked"


def request_body(request: HttpRequest) -> BinaryIO:
    """Return a stream of the body of a Django ``request``, de-chunked where the server did not."""
    environ = request.META
    if not is_chunked(environ):
        return request  # reads CONTENT_LENGTH bytes
    raw = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        return raw
    if isinstance(raw, LimitedStream):  # the dev server: the socket's reader is behind the wrapper
        raw = raw._read.__self__
    return ChunkedReader(raw)


class ChunkedReader:
    """A read-only stream of the data of a chunked body read from ``raw``."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._left_in_chunk = 0
        self._done = False

    def _line(self) -> bytes:
        line = self._raw.readline(MAX_CHUNK_LINE_BYTES + 1)
        if not line.endswith(b"\n"):
            raise MalformedChunkedBody("a chunk-size line is missing, unterminated or too long")
        return line.rstrip(b"\r\n")

    def _next_chunk(self) -> None:
        size_field = self._line().split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            raise MalformedChunkedBody("a chunk size is not a hexadecimal number") from None
        if size < 0:
            raise MalformedChunkedBody("a chunk size is negative")
        if size == 0:
            while self._line():  # trailer fields up to the empty line
                pass
            self._done = True
        self._left_in_chunk = size

    def read(self, size: int = -1) -> bytes:
        """Return up to ``size`` bytes of data (all that is left for ``size < 0``); ``b""`` at the end."""
        out = bytearray()
        while not self._done and (size < 0 or len(out) < size):
            if self._left_in_chunk == 0:
                self._next_chunk()
                continue
            want = self._left_in_chunk if size < 0 else min(self._left_in_chunk, size - len(out))
            data = self._raw.read(want)
            if not data:
                raise MalformedChunkedBody("the body ends inside a chunk")
            out += data
            self._left_in_chunk -= len(data)
            if self._left_in_chunk == 0 and self._raw.read(2) != b"\r\n":
                raise MalformedChunkedBody("a chunk is not followed by CRLF")
        return bytes(out)
