"""Turn what a client sent (DICOM files and .zip archives) into candidate files, safely.

Nothing here touches the filesystem by a client-supplied name: zip entries are read into
memory one at a time with size caps enforced while reading (the sizes a zip header claims are
not trusted). Entries that are unsafe (``..``, absolute paths, symlinks), nested archives, or
too big or too compressed (zip bombs) come back as rejections naming the rule.
"""
from __future__ import annotations

import stat
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from django.conf import settings

ZIP_MAGIC = b"PK\x03\x04"
READ_CHUNK_BYTES = 1024 * 1024

MAX_FILE_BYTES = 64 * 1024**2  # one DICOM instance (a 2048² 16-bit slice is 8 MiB)
MAX_ZIP_ENTRIES = 20_000
MAX_COMPRESSION_RATIO = 200  # DICOM CT compresses 2-10x; zeros compress > 1000x

UNSAFE_PATH_MSG = "Unsafe path inside the zip archive (absolute or containing '..'); entry skipped."
SYMLINK_MSG = "Symbolic links inside zip archives are not accepted."
NESTED_ZIP_MSG = "Zip archives inside zip archives are not accepted; upload the inner archive itself."
ZIP_BOMB_MSG = "Entry expands more than {ratio}x (possible zip bomb); rejected."
ENTRY_TOO_LARGE_MSG = "File is larger than {limit_mb} MB; a single DICOM instance cannot be this large."
ZIP_TOO_LARGE_MSG = "The archive expands beyond {limit_mb} MB in total; the remaining entries were rejected."
TOO_MANY_ENTRIES_MSG = "The archive has more than {limit} entries; the remaining entries were rejected."
BAD_ZIP_MSG = "The zip archive is corrupt or uses an unsupported feature (encryption or compression method)."


@dataclass(frozen=True)
class IncomingFile:
    """One file as a client sent it: a display name (never used as a path) and a readable stream."""

    name: str
    stream: BinaryIO


@dataclass(frozen=True)
class Candidate:
    """A file to parse (``data`` set) or a rejection before parsing (``reason`` set)."""

    name: str
    data: bytes | None = None
    reason: str = ""


def max_expanded_bytes() -> int:
    """Cap on the total bytes all archives of one upload may expand to."""
    return getattr(settings, "UPLOAD_MAX_EXPANDED_BYTES", 2 * settings.UPLOAD_MAX_BYTES)


def _read_capped(stream: BinaryIO, *, limit: int) -> bytes | None:
    """Read at most ``limit`` bytes; ``None`` when the stream holds more."""
    chunks, total = [], 0
    while True:
        chunk = stream.read(min(READ_CHUNK_BYTES, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            return None


def _unsafe_name(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":")


def _zip_entries(archive_name: str, stream: BinaryIO, budget: list[int]) -> Iterator[Candidate]:
    try:
        archive = zipfile.ZipFile(stream)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        yield Candidate(archive_name, reason=BAD_ZIP_MSG)
        return
    with archive:
        for index, info in enumerate(infos):
            name = f"{archive_name}/{info.filename}"
            if index >= MAX_ZIP_ENTRIES:
                yield Candidate(name, reason=TOO_MANY_ENTRIES_MSG.format(limit=MAX_ZIP_ENTRIES))
                return
            if info.is_dir():
                continue
            if _unsafe_name(info.filename):
                yield Candidate(name, reason=UNSAFE_PATH_MSG)
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                yield Candidate(name, reason=SYMLINK_MSG)
                continue
            if PurePosixPath(info.filename).name.startswith("._") or "__MACOSX" in info.filename:
                continue  # macOS resource forks, not images
            limit = min(MAX_FILE_BYTES, budget[0], max(info.compress_size, 1) * MAX_COMPRESSION_RATIO)
            try:
                with archive.open(info) as entry:
                    data = _read_capped(entry, limit=limit)
            except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError, EOFError):
                yield Candidate(name, reason=BAD_ZIP_MSG)
                continue
            if data is None:
                if limit == budget[0]:
                    yield Candidate(name, reason=ZIP_TOO_LARGE_MSG.format(limit_mb=max_expanded_bytes() // 1024**2))
                    return
                if limit == MAX_FILE_BYTES:
                    yield Candidate(name, reason=ENTRY_TOO_LARGE_MSG.format(limit_mb=MAX_FILE_BYTES // 1024**2))
                else:
                    yield Candidate(name, reason=ZIP_BOMB_MSG.format(ratio=MAX_COMPRESSION_RATIO))
                continue
            budget[0] -= len(data)
            if data.startswith(ZIP_MAGIC):
                yield Candidate(name, reason=NESTED_ZIP_MSG)
                continue
            yield Candidate(name, data=data)


def expand_upload(files: Iterable[IncomingFile]) -> Iterator[Candidate]:
    """Yield each plain file and each entry of each zip archive, one at a time."""
    budget = [max_expanded_bytes()]
    for incoming in files:
        head = incoming.stream.read(len(ZIP_MAGIC))
        incoming.stream.seek(0)
        if head == ZIP_MAGIC:
            yield from _zip_entries(incoming.name, incoming.stream, budget)
            continue
        data = _read_capped(incoming.stream, limit=MAX_FILE_BYTES)
        if data is None:
            yield Candidate(incoming.name, reason=ENTRY_TOO_LARGE_MSG.format(limit_mb=MAX_FILE_BYTES // 1024**2))
        else:
            yield Candidate(incoming.name, data=data)
