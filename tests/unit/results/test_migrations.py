"""Migration 0006 moves overlay bytes from PostgreSQL into the object store, and back when reversed."""
import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from triage.core.object_store import read_content

BEFORE = [("results", "0005_candidate_swept_until")]
AFTER = [("results", "0006_overlay_images_in_object_store")]


def migrate(targets):
    """Migrate ``results`` to ``targets`` (every other app stays at its latest); return the historical apps there."""
    executor = MigrationExecutor(connection)
    targets = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "results"] + targets
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_0006__moves_overlay_bytes_into_the_store_and_back(study_storage, hospital_a):
    latest = [node for node in MigrationExecutor(connection).loader.graph.leaf_nodes() if node[0] == "results"]
    try:
        apps = migrate(BEFORE)
        study = apps.get_model("studies", "Study").objects.create(hospital_id=hospital_a.id, study_instance_uid="1.2.3")
        version = apps.get_model("results", "ModelVersion").objects.create(
            name="m", version="1", weights_sha256="a" * 64, class_names=["covid"], input_size_px=224)
        result = apps.get_model("results", "Result").objects.create(
            study=study, model_version=version, class_probabilities={"covid": 0.5}, covid_probability=0.5,
            covid_probability_uncalibrated=0.5, predicted_label="covid", slices_scored=1)
        Overlay = apps.get_model("results", "Overlay")
        Overlay.objects.create(result=result, slice_index=0, kind="gradcam", png=b"\x89PNG-o", heatmap=b"\x89PNG-h",
                               width_px=8, height_px=8)
        Overlay.objects.create(result=result, slice_index=0, kind="lesion", png=b"\x89PNG-l", width_px=8, height_px=8)

        gradcam, lesion = migrate(AFTER).get_model("results", "Overlay").objects.order_by("kind")
        digest = hashlib.sha256(b"\x89PNG-o").hexdigest()
        assert gradcam.png_key == f"overlays/{hospital_a.uuid}/{digest[:2]}/{digest}.png"
        assert (gradcam.png_sha256, gradcam.png_size_bytes) == (digest, len(b"\x89PNG-o"))
        assert read_content(gradcam.png_key) == b"\x89PNG-o" and read_content(gradcam.heatmap_key) == b"\x89PNG-h"
        assert read_content(lesion.png_key) == b"\x89PNG-l" and lesion.heatmap_key == ""

        gradcam, lesion = migrate(BEFORE).get_model("results", "Overlay").objects.order_by("kind")
        assert (bytes(gradcam.png), bytes(gradcam.heatmap)) == (b"\x89PNG-o", b"\x89PNG-h")
        assert (bytes(lesion.png), lesion.heatmap) == (b"\x89PNG-l", None)
    finally:
        migrate(latest)
