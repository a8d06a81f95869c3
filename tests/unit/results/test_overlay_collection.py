"""The collector of unreferenced overlay images: grace period, references, and the race with a dedup hit."""
import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.unit.core.store_races import in_thread, postgresql_only, wait_until_someone_waits_for_the_store_lock  # noqa: F401
from tests.unit.core.test_object_store import stored_keys
from tests.unit.results.test_services import fake_analysis, make_study, model_version  # noqa: F401 (fixtures)
from triage.core.object_store import put_bytes, read_content, sha256_of
from triage.results import overlay_store
from triage.results import services as result_services
from triage.results.models import Overlay
from triage.results.services import collect_unreferenced_overlays, store_analysis
from triage.results.tasks import collect_unreferenced_overlays as collect_task

PAST_GRACE = timedelta(hours=25)


def orphan(hospital, data: bytes) -> str:
    key = overlay_key_of(hospital, data)
    assert put_bytes(key, data)
    return key


def overlay_key_of(hospital, data: bytes) -> str:
    return overlay_store.overlay_key(hospital_uuid=hospital.uuid, sha256=sha256_of(data))


@pytest.mark.django_db
def test_collect_unreferenced_overlays__deletes_old_orphans_only(any_study_store, make_study,
                                                                 model_version):  # noqa: F811
    study = make_study()
    store_analysis(study=study, model_version=model_version, analysis=fake_analysis())
    named = set(Overlay.objects.values_list("png_key", flat=True)) | {Overlay.objects.get(kind="gradcam").heatmap_key}
    lost = orphan(study.hospital, b"\x89PNG-lost")
    study_file = "not-overlays/kept.dcm"
    put_bytes(study_file, b"DICM")
    assert collect_unreferenced_overlays(now=timezone.now()) == 0  # young: perhaps a write not yet committed
    assert collect_unreferenced_overlays(now=timezone.now() + PAST_GRACE) == 1
    assert stored_keys(any_study_store) == named | {study_file} and lost not in stored_keys(any_study_store)


@pytest.mark.django_db
def test_collect_store_garbage__command_and_task_collect_once(study_storage, hospital_a):
    orphan(hospital_a, b"\x89PNG-1")
    call_command("collect_store_garbage", "--grace-hours", "0")
    assert stored_keys("filesystem") == set()
    assert collect_task() == 0  # a second run finds nothing


def _race(hospital, study, model_version, *, wait_for_blocked_collector: bool) -> list[int]:  # noqa: F811
    """Pause a writer right after its dedup hit on an old orphan; run the collector meanwhile; return its count."""
    orphan(hospital, b"\x89PNG-a")  # what fake_analysis's gradcam renders: the writer will reuse it
    reused, release, collected = threading.Event(), threading.Event(), []
    real_put = overlay_store.put_bytes

    def put_then_pause(key, data):
        wrote = real_put(key, data)
        if not reused.is_set():
            reused.set()
            release.wait(20)
        return wrote

    writer = in_thread(lambda: store_analysis(study=study, model_version=model_version, analysis=fake_analysis()))
    collector = in_thread(lambda: collected.append(collect_unreferenced_overlays(now=timezone.now() + PAST_GRACE)))
    with mock.patch.object(overlay_store, "put_bytes", side_effect=put_then_pause):
        writer.start()
        assert reused.wait(20)
        collector.start()
        if wait_for_blocked_collector:
            wait_until_someone_waits_for_the_store_lock()  # the collector, for the writer's shared lock
        else:
            collector.join(20)
        release.set()
        writer.join(20)
        collector.join(20)
    return collected


def test_collect_unreferenced_overlays__cannot_delete_what_a_writer_under_the_lock_reuses(
        transactional_db, postgresql_only, study_storage, make_study, model_version):  # noqa: F811
    study = make_study()
    assert _race(study.hospital, study, model_version, wait_for_blocked_collector=True) == [0]
    for overlay in Overlay.objects.all():  # every image the committed rows name is there
        assert sha256_of(read_content(overlay.png_key)) == overlay.png_sha256


def test_collect_unreferenced_overlays__without_the_writers_lock_the_reused_image_is_lost(
        transactional_db, postgresql_only, study_storage, make_study, model_version):  # noqa: F811
    study = make_study()
    with mock.patch.object(result_services, "lock_store_for_writing"):  # the race the lock exists for
        assert _race(study.hospital, study, model_version, wait_for_blocked_collector=False) == [1]
    with pytest.raises(FileNotFoundError):
        read_content(Overlay.objects.get(kind="gradcam").png_key)
