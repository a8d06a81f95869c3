from datetime import timedelta

import pytest
from django.utils import timezone

from tests.unit.worklist.factories import make_study
from tests.unit.worklist.test_apis import viewer_study  # noqa: F401 (fixture)
from inference.quantify.scoring import MAX_TOTAL_SCORE
from triage.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_worklist_page__renders_rows_in_triage_order(client, radiologist, hospital_a):
    now = timezone.now()
    make_study(hospital=hospital_a, received_at=now - timedelta(minutes=5), probability=0.9, accession="HIGH")
    make_study(hospital=hospital_a, received_at=now - timedelta(hours=2), probability=0.1, accession="OLD")
    client.force_login(radiologist)
    html = client.get("/worklist/").content.decode()
    assert html.index("OLD") < html.index("HIGH")
    assert "Waiting over cap" in html and 'scope="col"' in html


def test_worklist_page__partial_rows_and_invalid_filters(client, radiologist, hospital_a):
    make_study(hospital=hospital_a, received_at=timezone.now(), probability=0.5, accession="ONLY")
    client.force_login(radiologist)
    partial = client.get("/worklist/?partial=rows").content.decode()
    assert partial.strip().startswith("<table>") and 'id="worklist-rows"' in partial and "ONLY" in partial
    page = client.get("/worklist/?state=bogus")
    assert page.status_code == 200 and "were invalid" in page.content.decode()


def test_worklist_page__anonymous_is_redirected_to_login(client):
    response = client.get("/worklist/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_study_viewer_page__shows_numbers_and_audits_the_view(client, radiologist, viewer_study):  # noqa: F811
    client.force_login(radiologist)
    response = client.get(f"/studies/{viewer_study.uuid}/view/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "80.0 %" in html and f"7 / {MAX_TOTAL_SCORE}" in html and 'id="viewer-config"' in html
    assert AuditEvent.objects.filter(action="study.viewed", object_id=str(viewer_study.uuid)).count() == 1


def test_study_viewer_page__foreign_study_is_404(client, radiologist_b, viewer_study):  # noqa: F811
    client.force_login(radiologist_b)
    assert client.get(f"/studies/{viewer_study.uuid}/view/").status_code == 404
    assert not AuditEvent.objects.filter(action="study.viewed").exists()


def test_study_viewer_page__heatmap_colours_are_the_servers_map(client, radiologist, viewer_study):  # noqa: F811
    import json
    import re

    from inference.explain.colormap import colormap_lut

    client.force_login(radiologist)
    html = client.get(f"/studies/{viewer_study.uuid}/view/").content.decode()
    config = json.loads(re.search(r'<script id="viewer-config"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert config["colormap"]["lut"] == colormap_lut("inferno").tolist()
    assert config["colormap"]["stops"][0] == "#000004" and len(config["colormap"]["stops"]) == 10


def test_study_viewer_page__a_model_without_heatmap_says_so_and_offers_the_outline(client, radiologist,
                                                                                    viewer_study):  # noqa: F811
    from triage.results.models import Overlay

    Overlay.objects.filter(result__study=viewer_study).update(kind=Overlay.Kind.LESION)
    client.force_login(radiologist)
    html = client.get(f"/studies/{viewer_study.uuid}/view/").content.decode()
    assert 'id="toggle-gradcam" type="checkbox" disabled' in html and 'id="no-heatmap"' in html
    assert "the lesion outline is its explanation" in html and 'id="toggle-lesion"' in html
    assert "where the model looked" not in html  # no key for a heatmap it never draws


def test_study_viewer_page__a_pixel_model_offers_its_heatmap(client, radiologist, viewer_study):  # noqa: F811
    client.force_login(radiologist)
    html = client.get(f"/studies/{viewer_study.uuid}/view/").content.decode()
    assert 'id="toggle-gradcam" type="checkbox">' in html and 'id="no-heatmap"' not in html
    assert "where the model looked" in html  # the heatmap's colour key
