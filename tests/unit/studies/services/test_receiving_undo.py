"""The undo of a failed upload never deletes a file a concurrent upload of the same content is committing."""
import contextlib
import errno
import threading
from unittest import mock

import pytest

from tests.unit.core.store_races import in_thread, postgresql_only, wait_until_someone_waits_for_the_store_lock  # noqa: F401
from tests.unit.studies.helpers import read_paths, receive
from triage.core import object_store
from triage.studies import storage
from triage.studies.exceptions import StorageUnavailable
from triage.studies.models import Instance


def _race(hospital, user, files: dict[str, bytes], *, wait_for_blocked_undo: bool) -> list[BaseException]:
    """Upload A stores the first file, then fails on the second; upload B of the first file alone
    reuses it by content address and pauses before its commit while A undoes. Return A's errors."""
    shared_name = next(iter(files))
    a_stored, a_go, b_stored, b_go, errors = (threading.Event(), threading.Event(), threading.Event(),
                                              threading.Event(), [])
    real_store = storage.store_content

    def store(**kwargs):
        if threading.current_thread().name == "B":
            path, wrote = real_store(**kwargs)
            b_stored.set()
            b_go.wait(20)
            return path, wrote
        if a_stored.is_set():
            raise OSError(errno.EIO, "store failed")  # A's second file
        stored = real_store(**kwargs)
        a_stored.set()
        a_go.wait(20)
        return stored

    def upload_a():
        try:
            receive(hospital=hospital, user=user, files=files)
        except StorageUnavailable as exc:
            errors.append(exc)

    a = in_thread(upload_a)
    b = in_thread(lambda: receive(hospital=hospital, user=user, files={shared_name: files[shared_name]}))
    b.name = "B"
    with mock.patch.object(storage, "store_content", side_effect=store):
        a.start()
        assert a_stored.wait(20)
        b.start()
        assert b_stored.wait(20)  # B reused A's file and has not committed yet
        a_go.set()  # A fails now and undoes
        if wait_for_blocked_undo:
            wait_until_someone_waits_for_the_store_lock()  # A's undo waits for B's commit
        else:
            a.join(20)
        b_go.set()
        a.join(20)
        b.join(20)
    return errors


def test_receive_instances__undo_keeps_a_file_a_concurrent_upload_commits(
        transactional_db, postgresql_only, study_storage, hospital_a, radiologist, phantom_series):
    files = dict(list(read_paths(phantom_series(slices=8)).items())[:2])
    assert len(_race(hospital_a, radiologist, files, wait_for_blocked_undo=True)) == 1
    instance = Instance.objects.get()  # B's
    assert object_store.sha256_of(object_store.read_content(instance.storage_path)) == instance.sha256


def test_receive_instances__without_the_lock_the_undo_deletes_the_shared_file(
        transactional_db, postgresql_only, study_storage, hospital_a, radiologist, phantom_series):
    files = dict(list(read_paths(phantom_series(slices=8)).items())[:2])
    with mock.patch.object(object_store, "writing_across_transactions", contextlib.nullcontext):
        assert len(_race(hospital_a, radiologist, files, wait_for_blocked_undo=False)) == 1
    with pytest.raises(FileNotFoundError):  # the race the lock exists for: B's row names a deleted file
        object_store.read_content(Instance.objects.get().storage_path)
