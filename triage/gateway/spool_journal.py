"""The C-STORE SCP's spool journal: one append-only file per association, one durable write per instance.

Why a journal rather than a file per instance: a file per instance needs two flushes before its
Success can go back (the file's data, then its folder's new entry), and each flush waits for the
disk. A journal is created, and its folder flushed, once per association; after that each
instance is one ``writev`` on a descriptor opened with ``O_DSYNC``, which returns only when the
bytes and the file size that makes them readable are on stable storage. Measured on the CI host
(530 kB instances, the median of 6 alternating rounds): 5.4 ms per instance against 26 ms.

Record format: ``MAGIC`` (4 bytes), the length (8 bytes, little-endian), the CRC-32 of the data
(4 bytes), then the data (the instance as a DICOM file). A crash can leave only the last record
torn (its write never returned, so its Success was never sent); :func:`read_records` stops there.
"""
from __future__ import annotations

import os
import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"CTJ1"
HEADER = struct.Struct("<4sQI")
SUFFIX = ".journal"


@dataclass(frozen=True)
class Record:
    journal: Path
    offset: int  # of the data, after the record header
    length: int

    def read(self) -> bytes:
        with self.journal.open("rb") as stream:
            stream.seek(self.offset)
            return stream.read(self.length)

    @property
    def name(self) -> str:
        return f"{self.journal.stem}-{self.offset}.dcm"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """An open journal; :meth:`append` returns once the instance is durable. One writer thread only."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{uuid.uuid4().hex}{SUFFIX}"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_DSYNC, 0o600)
        _fsync_dir(folder)  # the journal's own name is durable before its first record is acknowledged
        self._size = 0

    def append(self, data: bytes) -> Record:
        header = HEADER.pack(MAGIC, len(data), zlib.crc32(data))
        pending = [memoryview(header), memoryview(data)]
        while pending:  # a regular file takes it all at once; loop in case it does not
            written = os.writev(self._fd, pending)
            while pending and written >= len(pending[0]):
                written -= len(pending[0])
                pending.pop(0)
            if pending and written:
                pending[0] = pending[0][written:]
        record = Record(self.path, self._size + HEADER.size, len(data))
        self._size += HEADER.size + len(data)
        return record

    def close(self) -> None:
        os.close(self._fd)


def read_records(path: Path) -> Iterator[Record]:
    """Yield the complete, intact records of a journal left by a previous run, stopping at a torn tail."""
    with path.open("rb") as stream:
        offset = 0
        while True:
            header = stream.read(HEADER.size)
            if len(header) < HEADER.size:
                return
            magic, length, crc = HEADER.unpack(header)
            data = stream.read(length)
            if magic != MAGIC or len(data) < length or zlib.crc32(data) != crc:
                return
            yield Record(path, offset + HEADER.size, length)
            offset += HEADER.size + length
