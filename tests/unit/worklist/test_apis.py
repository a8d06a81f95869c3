import hashlib
import io
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from tests.unit.worklist.factories import add_overlay, add_result, ct_dicom, make_study, store_series
from triage.audit.models import AuditEvent
from triage.studies.models import Study

pytestmark = pytest.mark.django_db
SIZE = 8


@pytest.fixture
def viewer_study(hospital_a):
    """A ready study: 4 slices stored in reverse z order, slice i holding HU = 100·i − 600 everywhere."""
    study = make_study(hospital=hospital_a, received_at=timezone.now() - timedelta(minutes=5))
    files = [ct_dicom(np.full((SIZE, SIZE), 424 + 100 * i, np.int16), z_mm=10.0 * i, number=4 - i)
             for i in reversed(range(4))]
    store_series(study=study, files=files)
    result = add_result(study=study, probability=0.8, lesion_fraction=0.1, severity=7,
                        slice_probabilities=[0.1, 0.9, 0.4, 0.2], key_slices=[1])
    add_overlay(result=result, slice_index=1, size_px=SIZE)
    return study


def slice_url(study, index, query=""):
    return f"/api/studies/{study.uuid}/slices/{index}.png{query}"


def test_worklist_list_api__returns_rows_in_triage_order(radiologist, hospital_a, api_client_for):
    now = timezone.now()
    make_study(hospital=hospital_a, received_at=now - timedelta(minutes=5), probability=0.9, accession="HIGH",
               lesion_fraction=0.25, severity=9)
    make_study(hospital=hospital_a, received_at=now - timedelta(hours=3), probability=0.1, accession="OLD")
    body = api_client_for(radiologist).get("/api/worklist/").json()
    assert [r["study"]["accession_number"] for r in body["results"]] == ["OLD", "HIGH"]
    assert (body["count"], body["overdue_count"]) == (2, 1)
    high = body["results"][1]
    assert high["priority_reason"] == "probability" and high["covid_probability"] == 0.9
    assert (high["lesion_fraction_both"], high["severity_total"], high["state"]) == (0.25, 9, "ready")
    assert body["results"][0]["priority_reason"] == "overdue"


def test_worklist_list_api__rejects_bad_filters_with_one_error_shape(radiologist, api_client_for):
    response = api_client_for(radiologist).get("/api/worklist/?state=bogus&received_from=2026-03-02"
                                               "&received_to=2026-03-01")
    assert response.status_code == 400
    assert set(response.json()) == {"message", "extra"}
    assert "state" in response.json()["extra"]["fields"]


def test_worklist_list_api__etag_gives_304_until_something_changes(radiologist, hospital_a, api_client_for):
    client = api_client_for(radiologist)
    study = make_study(hospital=hospital_a, received_at=timezone.now(), status=Study.Status.PROCESSING)
    first = client.get("/api/worklist/")
    assert first.status_code == 200 and first["Cache-Control"] == "private, no-cache"
    assert client.get("/api/worklist/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert client.get("/api/worklist/?page_size=10", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200
    add_result(study=study, probability=0.7)
    from triage.worklist.services import refresh_worklist_entry
    refresh_worklist_entry(study=study)
    assert client.get("/api/worklist/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_worklist_version_api__304_when_unchanged(radiologist, api_client_for):
    client = api_client_for(radiologist)
    first = client.get("/api/worklist/version/")
    assert first.status_code == 200 and first.json()["version"] in first["ETag"]
    assert client.get("/api/worklist/version/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


@pytest.mark.parametrize("url", ["/api/worklist/", "/api/worklist/version/"])
def test_worklist_apis__anonymous_gets_401(url, api_client_for):
    assert api_client_for().get(url).status_code == 401


def test_study_slice_api__serves_windowed_png_in_z_order(radiologist, viewer_study, api_client_for):
    response = api_client_for(radiologist).get(slice_url(viewer_study, 2, "?wl=-600&ww=1500"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, max-age=3600" and response["ETag"]
    pixels = np.asarray(Image.open(io.BytesIO(response.content)))
    # slice 2 (z = 20 mm) holds HU -400: 255 · (-400 + 1350) / 1500 = 161.5 -> 162
    assert pixels.shape == (SIZE, SIZE) and set(pixels.ravel().tolist()) == {162}


def test_study_slice_api__mediastinal_window_changes_pixels(radiologist, viewer_study, api_client_for):
    response = api_client_for(radiologist).get(slice_url(viewer_study, 3, "?wl=40&ww=400"))
    # HU -300 is below the mediastinal window's low end (-160): black
    assert set(np.asarray(Image.open(io.BytesIO(response.content))).ravel().tolist()) == {0}


def test_study_slice_api__etag_gives_304(radiologist, viewer_study, api_client_for):
    client = api_client_for(radiologist)
    etag = client.get(slice_url(viewer_study, 0))["ETag"]
    assert client.get(slice_url(viewer_study, 0), HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get(slice_url(viewer_study, 0, "?wl=40&ww=400"), HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_study_slice_api__bad_window_or_index(radiologist, viewer_study, api_client_for):
    client = api_client_for(radiologist)
    assert client.get(slice_url(viewer_study, 0, "?ww=0")).status_code == 400
    assert client.get(slice_url(viewer_study, 4)).status_code == 404


def test_study_slice_api__audits_once_per_window_not_per_slice(radiologist, viewer_study, api_client_for):
    client = api_client_for(radiologist)
    for index in range(4):
        assert client.get(slice_url(viewer_study, index)).status_code == 200
    assert AuditEvent.objects.filter(action="study.viewed", object_id=str(viewer_study.uuid)).count() == 1


def test_study_slice_raw_api__serves_hu_as_little_endian_int16_and_audits_once(radiologist, viewer_study,
                                                                              api_client_for):
    client = api_client_for(radiologist)
    responses = [client.get(f"/api/studies/{viewer_study.uuid}/slices/{i}.i16") for i in range(4)]
    assert [r.status_code for r in responses] == [200] * 4
    response = responses[2]
    assert response["Content-Type"] == "application/octet-stream" and response["X-Content-Type-Options"] == "nosniff"
    assert (response["X-Rows"], response["X-Columns"]) == (str(SIZE), str(SIZE))
    samples = np.frombuffer(response.content, dtype="<i2").reshape(SIZE, SIZE)
    assert set(samples.ravel().tolist()) == {-400}  # slice 2 (z = 20 mm) holds HU -400, as its PNG says
    assert AuditEvent.objects.filter(action="study.viewed", object_id=str(viewer_study.uuid)).count() == 1
    assert client.get(f"/api/studies/{viewer_study.uuid}/slices/2.i16",
                      HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    assert client.get(f"/api/studies/{viewer_study.uuid}/slices/4.i16").status_code == 404


def test_study_slice_raw_api__other_hospital_gets_404(radiologist_b, viewer_study, api_client_for):
    assert api_client_for(radiologist_b).get(f"/api/studies/{viewer_study.uuid}/slices/0.i16").status_code == 404


def test_study_overlay_api__serves_overlay_and_raw_heatmap(radiologist, viewer_study, api_client_for):
    client = api_client_for(radiologist)
    overlay = client.get(f"/api/studies/{viewer_study.uuid}/overlays/1/gradcam.png")
    heatmap = client.get(f"/api/studies/{viewer_study.uuid}/overlays/1/heatmap.png")
    assert overlay.status_code == heatmap.status_code == 200
    assert overlay["Content-Type"] == heatmap["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(overlay.content)).mode == "RGB"
    assert Image.open(io.BytesIO(heatmap.content)).mode == "L"
    assert client.get(f"/api/studies/{viewer_study.uuid}/overlays/0/gradcam.png").status_code == 404
    assert client.get(f"/api/studies/{viewer_study.uuid}/overlays/1/lesion.png").status_code == 404
    assert client.get(f"/api/studies/{viewer_study.uuid}/overlays/1/other.png").status_code == 404


@pytest.mark.parametrize("path", ["slices/0.png", "overlays/1/gradcam.png", "overlays/1/heatmap.png"])
def test_study_image_apis__foreign_study_is_404(path, radiologist_b, viewer_study, api_client_for):
    response = api_client_for(radiologist_b).get(f"/api/studies/{viewer_study.uuid}/{path}")
    assert response.status_code == 404
    assert response.json() == {"message": "Study not found.", "extra": {}}


@pytest.mark.parametrize("path", ["slices/0.png", "overlays/1/gradcam.png"])
def test_study_image_apis__anonymous_gets_401(path, viewer_study, api_client_for):
    assert api_client_for().get(f"/api/studies/{viewer_study.uuid}/{path}").status_code == 401


def test_study_overlay_api__answers_the_stored_bytes_with_the_content_etag(radiologist, viewer_study, api_client_for):
    from django.utils.http import quote_etag

    from triage.core.object_store import read_content
    from triage.results.models import Overlay

    client, overlay = api_client_for(radiologist), Overlay.objects.get(result__study=viewer_study, kind="gradcam")
    for kind, key in (("gradcam", overlay.png_key), ("heatmap", overlay.heatmap_key)):
        response = client.get(f"/api/studies/{viewer_study.uuid}/overlays/1/{kind}.png")
        data = read_content(key)
        assert response.content == data  # served as stored, byte for byte
        assert response["ETag"] == quote_etag(f"{overlay.pk}-{kind}-{hashlib.sha256(data).hexdigest()[:16]}")
        assert client.get(f"/api/studies/{viewer_study.uuid}/overlays/1/{kind}.png",
                          HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
