"""Parse a ``multipart/related`` body (RFC 2387 / RFC 2046) without holding it in memory.

The body is first copied, with a byte cap, into an unnamed temporary file; parts are then found
by searching a memory map of that file, so only one part at a time is copied into memory. No
client-supplied name is ever used as a path.
"""
from __future__ import annotations

import mmap
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from django.utils.http import parse_header_parameters

from triage.gateway.exceptions import MalformedMultipart

READ_CHUNK_BYTES = 1024 * 1024
MAX_PART_HEADER_BYTES = 16 * 1024
MAX_BOUNDARY_CHARS = 70  # RFC 2046 5.1.1


class BodyTooLarge(Exception):
    """The body holds more than the allowed number of bytes."""


@dataclass(frozen=True)
class Part:
    """One body part: lower-cased header names, and where its content lies in the body."""

    headers: dict[str, str]
    start: int
    end: int

    @property
    def size_bytes(self) -> int:
        return self.end - self.start

    @property
    def content_type(self) -> str:
        value, _ = parse_header_parameters(self.headers.get("content-type", ""))
        return value.lower()


def boundary_of(content_type: str) -> str:
    """Return the ``boundary`` parameter of a multipart Content-Type; raise if missing or invalid."""
    _, params = parse_header_parameters(content_type)
    boundary = params.get("boundary", "")
    if not 1 <= len(boundary) <= MAX_BOUNDARY_CHARS:
        raise MalformedMultipart("missing or invalid boundary parameter")
    return boundary


def spool_body(stream: BinaryIO, *, max_bytes: int) -> BinaryIO:
    """Copy ``stream`` into an unnamed temporary file; raise :class:`BodyTooLarge` past ``max_bytes``."""
    spool = tempfile.TemporaryFile()
    total = 0
    try:
        while chunk := stream.read(READ_CHUNK_BYTES):
            total += len(chunk)
            if total > max_bytes:
                raise BodyTooLarge()
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.flush()
    spool.seek(0)
    return spool


def _parse_headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    name = ""
    for line in raw.decode("latin-1").split("\r\n"):
        if not line:
            continue
        if line[0] in " \t" and name:  # a folded header line continues the previous field (RFC 5322 3.2.2)
            headers[name] = f"{headers[name]} {line.strip()}".strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise MalformedMultipart("a part header line has no colon")
        name = name.strip().lower()
        headers[name] = value.strip()
    return headers


def iter_parts(body: mmap.mmap | bytes, *, boundary: str) -> Iterator[Part]:
    """Yield each part of ``body`` (preamble and epilogue ignored); raise on a broken structure."""
    delimiter = b"--" + boundary.encode("latin-1")
    if body[: len(delimiter)] == delimiter:
        position = 0
    else:
        position = body.find(b"\r\n" + delimiter)
        if position < 0:
            raise MalformedMultipart("the boundary never occurs")
        position += 2
    while True:
        after = position + len(delimiter)
        if body[after: after + 2] == b"--":
            return
        line_end = body.find(b"\r\n", after)
        if line_end < 0:
            raise MalformedMultipart("a boundary line is not terminated")
        headers_start = line_end + 2
        if body[headers_start: headers_start + 2] == b"\r\n":
            headers, content_start = {}, headers_start + 2
        else:
            headers_end = body.find(b"\r\n\r\n", headers_start, headers_start + MAX_PART_HEADER_BYTES)
            if headers_end < 0:
                raise MalformedMultipart("part headers are not terminated or are too long")
            headers, content_start = _parse_headers(body[headers_start:headers_end]), headers_end + 4
        next_delimiter = body.find(b"\r\n" + delimiter, content_start)
        if next_delimiter < 0:
            raise MalformedMultipart("the closing boundary is missing")
        yield Part(headers=headers, start=content_start, end=next_delimiter)
        position = next_delimiter + 2


def map_file(spool: BinaryIO) -> mmap.mmap | bytes:
    """Memory-map a spooled body read-only (an empty body maps to ``b""``)."""
    spool.seek(0, 2)
    if spool.tell() == 0:
        return b""
    return mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ)
