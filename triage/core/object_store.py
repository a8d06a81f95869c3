"""The object store every app keeps its files in: local disk (embedded default) or an S3 store.

Study files (:mod:`triage.studies.storage`), rendered overlays (:mod:`triage.results`) and
analysis hand-offs all live here, under content-addressed keys each app lays out itself; it sits
in ``core`` so that apps which never import each other share one store. :func:`get_store` picks
the backend from settings: the S3-compatible store when ``TRIAGE_S3_BUCKET`` is set
(production: web and workers share no disk), else Django's default storage on the local
filesystem (``TRIAGE_STORAGE_ROOT``).

Both backends publish atomically, so no reader and no later upload ever sees a partly
written file; both stream (a file is never read whole into memory by the store itself). An
outage of the store raises :class:`~triage.core.exceptions.StorageOffline` (an ``OSError``),
which uploads answer with 503 and tasks retry; a missing file raises ``FileNotFoundError``.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import os
import uuid
from pathlib import Path
from datetime import datetime, timedelta
from typing import BinaryIO, Callable, Iterable, Iterator, Protocol

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction

from triage.core.exceptions import StorageOffline

logger = logging.getLogger(__name__)

# Above this, uploads to S3 go in parts of this size: one part in memory at a time.
S3_PART_BYTES = 8 * 1024 * 1024


class ObjectStore(Protocol):
    """Where files are kept; keys are content addresses laid out by the app that owns them."""

    def put(self, key: str, source: BinaryIO, *, size: int) -> bool:
        """Publish ``size`` bytes read from ``source`` under ``key``; return False if already there."""

    def open(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        """Open the file for streamed reading; ``FileNotFoundError`` if there is none."""

    def delete(self, key: str) -> None:
        """Remove the file if present."""

    def list(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """Yield ``(key, last modified)`` of every published file under ``prefix`` (a folder, ending in ``/``)."""

    def ping(self) -> None:
        """Raise :class:`StorageOffline` unless the store answers."""


class FilesystemStore:
    """Django's default storage on a local folder; publishes with a hard link (atomic)."""

    def __init__(self, storage=default_storage):
        self.storage = storage

    def put(self, key: str, source: BinaryIO, *, size: int) -> bool:
        try:
            local = Path(self.storage.path(key))
        except NotImplementedError:  # a storage without local paths: whole objects, used as they are
            return self._put_object(key, source)
        if local.is_file() and local.stat().st_size == size:
            return False
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_name(f".{local.name}.{uuid.uuid4().hex}.part")
        try:
            with open(partial, "xb") as handle:
                for chunk in iter(functools.partial(source.read, 1024 * 1024), b""):
                    handle.write(chunk)
            try:
                os.link(partial, local)
                return True
            except FileExistsError:
                if local.stat().st_size == size:
                    return False  # a concurrent upload published the same content
                logger.warning("core.storage_partial_file_replaced", extra={"path": key})
                os.replace(partial, local)
                return True
        finally:
            partial.unlink(missing_ok=True)

    def _put_object(self, key: str, source: BinaryIO) -> bool:
        if self.storage.exists(key):
            return False
        saved = self.storage.save(key, File(source))
        if saved != key:  # a concurrent writer stored the same content first
            self.storage.delete(saved)
            return False
        return True

    def open(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        return self.storage.open(key, "rb")

    def delete(self, key: str) -> None:
        self.storage.delete(key)

    def list(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        try:
            folders, files = self.storage.listdir(prefix)
        except FileNotFoundError:
            return
        for name in files:
            if not name.startswith("."):  # ".<name>.<uuid>.part": a write in flight, never published
                yield f"{prefix}{name}", self.storage.get_modified_time(f"{prefix}{name}")
        for folder in folders:
            yield from self.list(f"{prefix}{folder}/")

    def ping(self) -> None:
        location = getattr(self.storage, "location", None)
        if location is None:
            return
        os.makedirs(location, exist_ok=True)  # an OSError here is the answer
        if not os.access(location, os.W_OK):
            raise StorageOffline(f"storage folder not writable: {location}")


class S3Store:
    """An S3-compatible bucket through boto3. A PUT is atomic: an object exists whole or not at all."""

    def __init__(self, *, client, bucket: str):
        self.client = client
        self.bucket = bucket

    @contextlib.contextmanager
    def _offline_on_transport_errors(self) -> Iterator[None]:
        """Turn connection failures and 5xx answers into ``StorageOffline``, 404 into ``FileNotFoundError``."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in {"404", "NoSuchKey", "NotFound"}:
                raise FileNotFoundError(code) from exc
            if status >= 500 or code in {"SlowDown", "ServiceUnavailable", "InternalError"}:
                raise StorageOffline(f"S3 answered {status} {code}") from exc
            raise
        except (BotoCoreError, S3UploadFailedError) as exc:
            raise StorageOffline(f"S3 unreachable: {type(exc).__name__}") from exc

    def put(self, key: str, source: BinaryIO, *, size: int) -> bool:
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import ClientError

        if size <= S3_PART_BYTES:
            # One conditional PUT: of two uploads of the same content racing, exactly one writes,
            # so the other's undo (after a later failure) can never delete a file still in use.
            try:
                with self._offline_on_transport_errors():
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=source, ContentLength=size,
                                           IfNoneMatch="*")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "PreconditionFailed":
                    raise
                return False
            return True
        if self._size_of(key) == size:  # multipart uploads take no condition: look first
            return False
        with self._offline_on_transport_errors():
            self.client.upload_fileobj(source, self.bucket, key, Config=TransferConfig(
                multipart_threshold=S3_PART_BYTES, multipart_chunksize=S3_PART_BYTES, use_threads=False))
        return True

    def _size_of(self, key: str) -> int | None:
        try:
            with self._offline_on_transport_errors():
                return self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        with self._offline_on_transport_errors():
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            yield _OfflineOnErrors(body, self)
        finally:
            body.close()

    def delete(self, key: str) -> None:
        with self._offline_on_transport_errors():
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def list(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        with self._offline_on_transport_errors():
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"], item["LastModified"]

    def ping(self) -> None:
        with self._offline_on_transport_errors():
            self.client.head_bucket(Bucket=self.bucket)


class _OfflineOnErrors(io.RawIOBase):
    """A streamed S3 body whose mid-read connection failures raise ``StorageOffline``."""

    def __init__(self, body, store: S3Store):
        self.body, self.store = body, store

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        with self.store._offline_on_transport_errors():
            return self.body.read(None if size is None or size < 0 else size)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


@functools.lru_cache(maxsize=4)
def _s3_client(endpoint_url: str | None, region: str, access_key: str, secret_key: str):
    """Build one boto3 client per configuration (clients are thread-safe and pool connections)."""
    import boto3
    from botocore.config import Config

    # Short timeouts and two attempts: an outage answers 503 in seconds, not minutes.
    config = Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"},
                    s3={"addressing_style": "path"}, signature_version="s3v4")
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config,
                        aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None)


def get_store() -> ObjectStore:
    """Return the configured store: S3 when a bucket is set, else the local default storage."""
    s3 = settings.TRIAGE_S3
    if not s3["bucket"]:
        return FilesystemStore(default_storage)
    client = _s3_client(s3["endpoint_url"] or None, s3["region"], s3["access_key"], s3["secret_key"])
    return S3Store(client=client, bucket=s3["bucket"])


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_bytes(key: str, data: bytes) -> bool:
    """Publish ``data`` under ``key`` atomically; return False if the key already held it."""
    return get_store().put(key, io.BytesIO(data), size=len(data))


@contextlib.contextmanager
def open_content(path: str) -> Iterator[BinaryIO]:
    """Open a stored file for streamed reading."""
    with get_store().open(path) as handle:
        yield handle


def read_content(path: str) -> bytes:
    """Return one stored file's bytes (one DICOM instance or overlay, never a whole study)."""
    with open_content(path) as handle:
        return handle.read()


def delete_content(paths: list[str]) -> None:
    """Delete files (best effort): used to undo the writes of a failed upload or analysis."""
    store = get_store()
    for path in paths:
        try:
            store.delete(path)
        except OSError:
            logger.warning("core.storage_cleanup_failed", extra={"path": path})


def storage_health() -> tuple[bool, str]:
    """Tell whether the object store answers, and which backend it is."""
    store = get_store()
    kind = "s3" if isinstance(store, S3Store) else "filesystem"
    try:
        store.ping()
    except OSError as exc:
        return False, f"{kind}: {type(exc).__name__}"
    return True, kind


# --- Reuse versus collection ---------------------------------------------------------------
#
# A content-addressed write that finds its key already there (a dedup hit) reuses an object
# that may be old and, until the writer's row commits, unreferenced: exactly what the
# collector deletes. So writers and the collector share one PostgreSQL advisory lock:
# a writer holds it shared from before its first put until its rows commit; the collector
# takes it exclusively and re-checks, under it, that no row references what it deletes.
# Two collectors never run together, and writers never wait on each other. SQLite (the
# embedded default) has no advisory locks and needs none: its transactions begin IMMEDIATE
# (settings.py), so each already holds the database's one write lock from start to commit.

STORE_LOCK_ID = 0x7472_6961_6765  # "triage": one application-wide key of pg_advisory_xact_lock
COLLECT_GRACE = timedelta(hours=24)  # younger unreferenced objects may be writes whose rows are not yet committed
COLLECT_BATCH = 500


def _advisory_lock(function: str) -> None:
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise RuntimeError("the store lock is held until the transaction ends: take it inside transaction.atomic()")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [STORE_LOCK_ID])


def lock_store_for_writing() -> None:
    """Hold the store lock shared until this transaction ends: no collection deletes what it writes or reuses."""
    _advisory_lock("pg_advisory_xact_lock_shared")


def lock_store_for_deleting() -> None:
    """Hold the store lock exclusively until this transaction ends: no writer is between a put and its commit."""
    _advisory_lock("pg_advisory_xact_lock")


@contextlib.contextmanager
def writing_across_transactions() -> Iterator[None]:
    """Hold the store lock shared for this session while puts precede the transaction that records them.

    For a writer that stores many files before one short transaction (an upload): a session
    lock, released on exit (or when the connection closes, should the process die).
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock_shared(%s)", [STORE_LOCK_ID])
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock_shared(%s)", [STORE_LOCK_ID])
        except DatabaseError:  # the connection broke: the lock goes with it when Django closes it
            logger.warning("core.store_lock_release_failed")


def delete_unreferenced(keys: Iterable[str], *, referenced: Callable[[list[str]], set[str]]) -> list[str]:
    """Delete those of ``keys`` that no row references, re-checked under the exclusive store lock; return them.

    ``referenced(keys)`` returns the keys some row still names. Waiting for the lock waits for
    every writer between a put and its commit, so a row a concurrent writer is about to commit
    for the same content is seen. Run it outside any caller's transaction where possible (the
    lock is held until the transaction ends) and never while holding the lock shared. A key
    the store fails to delete is logged and left (the collector takes it later).
    """
    keys = list(dict.fromkeys(keys))
    if not keys:
        return []
    deleted = []
    with transaction.atomic():
        lock_store_for_deleting()
        kept = referenced(keys)
        store = get_store()
        for key in keys:
            if key in kept:
                continue
            try:
                store.delete(key)
            except OSError:
                logger.warning("core.storage_cleanup_failed", extra={"path": key})
                continue
            deleted.append(key)
    return deleted


def collect_garbage(*, prefix: str, referenced: Callable[[list[str]], set[str]], now: datetime,
                    grace: timedelta = COLLECT_GRACE, batch: int = COLLECT_BATCH) -> int:
    """Delete the objects under ``prefix`` older than ``grace`` that no row references; return how many.

    Lists without the lock, then deletes batch by batch under it (:func:`delete_unreferenced`),
    so writers wait at most one batch.
    """
    deleted, candidates = 0, []
    for key, modified_at in get_store().list(prefix):
        if modified_at <= now - grace:
            candidates.append(key)
        if len(candidates) == batch:
            deleted += len(delete_unreferenced(candidates, referenced=referenced))
            candidates = []
    deleted += len(delete_unreferenced(candidates, referenced=referenced))
    logger.info("core.store_collected", extra={"prefix": prefix, "deleted": deleted})
    return deleted
