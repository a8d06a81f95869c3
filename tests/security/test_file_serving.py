"""Stored and derived bytes: exact types, never sniffed, never publicly cached, never by path.

- every GET operation that answers with file bytes (anything but a JSON or HTML document) has
  an exact Content-Type, ``X-Content-Type-Options: nosniff`` and ``Cache-Control: private``;
- a client-supplied file name (multipart or inside a zip) never reaches the filesystem: the
  storage tree holds only ``<hospital uuid>/<sha256[:2]>/<sha256>.dcm``;
- stored files are reachable by no URL (no media/static/storage route), only by the views.
"""
import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.security.conftest import TENANT_PRINCIPALS, client_as, tiny_ct
from tests.security.discovery import PUBLIC_PATHS
from triage.studies.models import Instance
from triage.studies.services.receiving import receive_instances
from triage.studies.uploads import IncomingFile

DOCUMENT_TYPES = ("application/json", "text/html", "application/vnd.oai.openapi")
FILE_TYPES = {"image/png", "image/jpeg", "text/csv; charset=utf-8", "application/zip", "application/dicom+json",
              'multipart/related; type="application/dicom"',  # DICOMweb (docs/dicomweb.md)
              "application/octet-stream",  # raw int16 slices for the viewer's canvas: never rendered by a browser
              'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1'}
BOUNDARY = re.compile(r"; boundary=[0-9a-f]+$")
# Content addresses only: study files, and the overlay images the world's results store beside them.
STORED_PATH = re.compile(r"^(overlays/[0-9a-f-]{36}/[0-9a-f]{2}/[0-9a-f]{64}\.png|[0-9a-f-]{36}/[0-9a-f]{2}/[0-9a-f]{64}\.dcm)$")
HOSTILE_NAMES = ["../../etc/passwd", "a/b.dcm", "\x00.dcm", "..\\..\\windows\\win.ini", "/abs/path.dcm",
                 "ok.dcm\x00.png", "%2e%2e%2fescape.dcm"]


def stored_tree(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.django_db
def test_every_file_response__exact_type_nosniff_and_private_cache(world, operations):
    clients = {p: client_as(world, p) for p in TENANT_PRINCIPALS}
    extra_urls = [f"/api/studies/{world.a.study.uuid}/overlays/1/{kind}.png" for kind in ("lesion", "heatmap")]
    urls = [o.url(world.a.params) for o in operations if o.method == "get" and o.template not in PUBLIC_PATHS]
    served = {}
    for url in urls + extra_urls:
        for principal, client in clients.items():
            response = client.get(url)
            assert response["X-Content-Type-Options"] == "nosniff", f"{principal} GET {url}"
            if response.status_code != 200 or response["Content-Type"].startswith(DOCUMENT_TYPES):
                continue
            served[url] = response["Content-Type"]
            content_type = BOUNDARY.sub("", response["Content-Type"])
            assert content_type in FILE_TYPES, f"GET {url}: inexact type {response['Content-Type']}"
            cache_control = response.get("Cache-Control", "")
            assert "private" in cache_control and "public" not in cache_control, (
                f"GET {url}: patient bytes cacheable by shared caches ({cache_control!r})")
    assert any(u.endswith(".png") for u in served) and any(u.endswith(".csv") for u in served), served


@pytest.mark.django_db
def test_image_not_modified__keeps_private_cache_and_nosniff(world):
    client = client_as(world, "radiologist")
    url = f"/api/studies/{world.a.study.uuid}/slices/0.png"
    etag = client.get(url)["ETag"]

    response = client.get(url, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response["Cache-Control"].startswith("private") and response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_upload_api__hostile_file_names_never_reach_the_filesystem(world, study_storage, tmp_path):
    files = [SimpleUploadedFile(name, tiny_ct(z_mm=float(i)), "application/dicom")
             for i, name in enumerate(HOSTILE_NAMES)]

    response = client_as(world, "radiologist").post(
        "/api/studies/", {"hospital": str(world.a.hospital.uuid), "files": files}, format="multipart")

    assert response.status_code == 201, response.content
    tree = stored_tree(study_storage)
    assert tree and all(STORED_PATH.match(p) for p in tree), tree
    assert not [p for p in tmp_path.parent.rglob("passwd")] and not (study_storage / "etc").exists()


@pytest.mark.django_db
def test_receive_instances__hostile_names_and_zip_entries_are_display_names_only(world, study_storage, tmp_path):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../../zipslip.dcm", tiny_ct(z_mm=20.0))
        zf.writestr("/abs/zip.dcm", tiny_ct(z_mm=21.0))
        zf.writestr("dir/ok.dcm", tiny_ct(z_mm=22.0))
    incoming = [IncomingFile(name=name, stream=io.BytesIO(tiny_ct(z_mm=10.0 + i)))
                for i, name in enumerate(HOSTILE_NAMES)]
    incoming.append(IncomingFile(name="../../bundle.zip", stream=io.BytesIO(archive.getvalue())))

    receive_instances(hospital=world.a.hospital, uploaded_by=world.a.radiologist, files=incoming, source="api")

    tree = stored_tree(study_storage)
    assert all(STORED_PATH.match(p) for p in tree), tree
    assert all(STORED_PATH.match(p) for p in Instance.objects.values_list("storage_path", flat=True))
    assert not list(tmp_path.parent.rglob("zipslip.dcm")) and not list(tmp_path.parent.rglob("passwd"))


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_stored_files__reachable_by_no_url(world, study_storage, settings, debug):
    settings.DEBUG = debug
    path = Instance.objects.filter(series__study=world.a.study).values_list("storage_path", flat=True).first()
    assert (study_storage / path).is_file()
    client = client_as(world, "admin")
    probes = [f"/media/{path}", f"/storage/{path}", f"/static/../storage/{path}", f"/static/%2e%2e/storage/{path}",
              f"/var/storage/{path}", f"/static/{path}", f"/{path}", f"/api/{path}", f"/api/storage/{path}",
              f"/studies/{path}", "/static/../var/secret_key", "/static/..%2fsettings.py", "/static/../triage/settings.py"]
    for url in probes:
        response = client.get(url)
        body = b"".join(response) if response.streaming else response.content
        assert response.status_code in (404, 400), f"GET {url} -> {response.status_code}"
        assert b"DICM" not in body and b"SECRET_KEY" not in body, f"GET {url} served stored bytes"
