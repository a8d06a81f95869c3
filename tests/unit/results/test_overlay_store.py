"""Overlay images in the object store, on local disk and the suite's real S3 store (issue #19)."""
import hashlib
from unittest import mock

import pytest

from tests.unit.core.test_object_store import stored_keys
from tests.unit.results.test_services import fake_analysis, make_study, model_version  # noqa: F401 (fixtures)
from triage.core.exceptions import StorageOffline
from triage.core.object_store import read_content
from triage.results import overlay_store
from triage.results.models import ModelVersion, Overlay, Result
from triage.results.services import store_analysis

pytestmark = pytest.mark.django_db


def test_store_analysis__puts_each_image_under_its_content_address_and_the_row_names_it(
        any_study_store, make_study, model_version):  # noqa: F811
    study = make_study()
    store_analysis(study=study, model_version=model_version, analysis=fake_analysis())
    gradcam, lesion = Overlay.objects.order_by("kind")
    for key, sha256, size, data in ((gradcam.png_key, gradcam.png_sha256, gradcam.png_size_bytes, b"\x89PNG-a"),
                                    (gradcam.heatmap_key, gradcam.heatmap_sha256, gradcam.heatmap_size_bytes,
                                     b"\x89PNG-h"),
                                    (lesion.png_key, lesion.png_sha256, lesion.png_size_bytes, b"\x89PNG-b")):
        digest = hashlib.sha256(data).hexdigest()
        assert (key, sha256, size) == (f"overlays/{study.hospital.uuid}/{digest[:2]}/{digest}.png", digest, len(data))
        assert read_content(key) == data
    assert (lesion.heatmap_key, lesion.heatmap_size_bytes) == ("", None)  # an outline has no raw heatmap
    assert stored_keys(any_study_store) == {gradcam.png_key, gradcam.heatmap_key, lesion.png_key}


def test_store_analysis__the_same_images_again_reuse_their_objects(any_study_store, make_study,
                                                                   model_version):  # noqa: F811
    study = make_study()
    store_analysis(study=study, model_version=model_version, analysis=fake_analysis())
    newer = ModelVersion.objects.create(name="m", version="2", weights_sha256="b" * 64, class_names=["covid"],
                                        input_size_px=224)
    store_analysis(study=study, model_version=newer, analysis=fake_analysis())
    assert Overlay.objects.count() == 4 and len(stored_keys(any_study_store)) == 3


def test_store_analysis__s3_down_mid_write_commits_nothing_then_a_retry_stores_every_image(
        s3_bucket, s3_server, make_study, model_version):  # noqa: F811
    study, real_put, puts = make_study(), overlay_store.put_bytes, []

    def outage_after_first(key, data):
        if puts:
            s3_server.stop()  # a real outage: the store stops answering
        puts.append(key)
        return real_put(key, data)

    try:
        with mock.patch.object(overlay_store, "put_bytes", side_effect=outage_after_first):
            with pytest.raises(StorageOffline):
                store_analysis(study=study, model_version=model_version, analysis=fake_analysis())
        assert len(puts) == 2 and not Result.objects.exists() and not Overlay.objects.exists()
    finally:
        if s3_server.pid is None:
            s3_server.start()
    result = store_analysis(study=study, model_version=model_version, analysis=fake_analysis())
    overlays = Overlay.objects.filter(result=result)
    assert overlays.count() == 2
    for overlay in overlays:  # whole objects: the one put before the outage is reused, the rest written now
        assert hashlib.sha256(read_content(overlay.png_key)).hexdigest() == overlay.png_sha256
