"""DICOMweb STOW-RS end to end: real DICOM files over HTTP into the token's hospital only."""
import io
import warnings
from pathlib import Path

import pydicom
import pytest
from rest_framework.test import APIClient

from triage.accounts import services as account_services
from triage.accounts.models import Role
from triage.gateway import dicomweb
from triage.studies.models import Instance, Study

BOUNDARY = "stow-test-boundary"
CONTENT_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def multipart(parts: list[bytes], *, part_type: str = "application/dicom") -> bytes:
    body = b"".join(b"--%s\r\nContent-Type: %s\r\n\r\n%s\r\n" % (BOUNDARY.encode(), part_type.encode(), p)
                    for p in parts)
    return body + b"--%s--\r\n" % BOUNDARY.encode()


def stow(key: str | None, body: bytes, *, url: str = "/dicomweb/studies", content_type: str = CONTENT_TYPE):
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"} if key else {}
    return client.generic("POST", url, data=body, content_type=content_type, **headers)


@pytest.fixture(autouse=True)
def _storage(study_storage):
    return study_storage


@pytest.fixture
def sender_a(hospital_a, make_user):
    return make_user(hospital=hospital_a, role=Role.RADIOLOGIST)


def token_key(user, hospital=None) -> str:
    _, key = account_services.create_api_token(actor=user, name="pacs", hospital=hospital)
    return key


@pytest.fixture
def series(phantom_series):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return [p.read_bytes() for p in phantom_series(slices=8, size_px=64, severity="none", seed=7)]


def sop_uids(data: list[bytes]) -> list[str]:
    return [pydicom.dcmread(io.BytesIO(d), stop_before_pixels=True).SOPInstanceUID for d in data]


@pytest.mark.django_db
def test_study_store_api__stores_a_series_into_the_tokens_hospital(hospital_a, sender_a, series):
    response = stow(token_key(sender_a, hospital_a), multipart(series))

    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith(dicomweb.DICOM_JSON_MEDIA_TYPE)
    body = response.json()
    assert [i["00081155"]["Value"][0] for i in body["00081199"]["Value"]] == sop_uids(series)
    assert "Value" not in body["00081198"]
    study = Study.objects.get()
    assert (study.hospital, study.source) == (hospital_a, Study.Source.STOW)
    assert Instance.objects.filter(series__study=study).count() == len(series)


@pytest.mark.django_db
def test_study_store_api__hospital_b_token_stores_into_b_only(hospital_a, hospital_b, make_user, series):
    sender_b = make_user(hospital=hospital_b, role=Role.CLINICIAN)
    sender_b.memberships.create(hospital=hospital_a, role=Role.CLINICIAN)  # a member of A too: still B only

    response = stow(token_key(sender_b, hospital_b), multipart(series))

    assert response.status_code == 200, response.content
    assert not Study.objects.filter(hospital=hospital_a).exists()
    assert Study.objects.get().hospital == hospital_b


@pytest.mark.django_db
def test_study_store_api__unbound_token_is_400(sender_a, series):
    response = stow(token_key(sender_a), multipart(series))

    assert response.status_code == 400
    assert "bound to a hospital" in response.json()["message"]
    assert not Study.objects.exists()


@pytest.mark.django_db
def test_study_store_api__no_or_bad_token_is_401(series):
    assert stow(None, multipart(series)).status_code == 401
    assert stow("not-a-real-key", multipart(series)).status_code == 401
    assert not Study.objects.exists()


@pytest.mark.django_db
def test_study_store_api__session_login_is_not_accepted(hospital_a, sender_a, series):
    client = APIClient()
    client.force_login(sender_a)

    response = client.generic("POST", "/dicomweb/studies", data=multipart(series), content_type=CONTENT_TYPE)

    assert response.status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", [
    "application/dicom",
    f"multipart/form-data; boundary={BOUNDARY}",
    f'multipart/related; type="application/dicom+json"; boundary={BOUNDARY}',
])
def test_study_store_api__wrong_content_type_is_415(hospital_a, sender_a, series, content_type):
    response = stow(token_key(sender_a, hospital_a), multipart(series), content_type=content_type)

    assert response.status_code == 415
    assert set(response.json()) == {"message", "extra"}
    assert not Study.objects.exists()


@pytest.mark.django_db
def test_study_store_api__over_upload_limit_is_413(hospital_a, sender_a, series, settings):
    settings.UPLOAD_MAX_BYTES = 1000

    response = stow(token_key(sender_a, hospital_a), multipart(series))

    assert response.status_code == 413
    assert not Study.objects.exists()


@pytest.mark.django_db
def test_study_store_api__mixed_parts_are_202_with_failure_reasons(hospital_a, sender_a, series):
    mr = pydicom.dcmread(io.BytesIO(series[1]))
    mr.Modality = "MR"
    mr.SOPInstanceUID = pydicom.uid.generate_uid()
    buffer = io.BytesIO()
    mr.save_as(buffer, enforce_file_format=True)
    parts = [series[0], b"this is not DICOM at all", buffer.getvalue()]

    response = stow(token_key(sender_a, hospital_a), multipart(parts))

    assert response.status_code == 202, response.content
    body = response.json()
    assert len(body["00081199"]["Value"]) == 1
    reasons = [item["00081197"]["Value"][0] for item in body["00081198"]["Value"]]
    assert reasons == [dicomweb.CANNOT_UNDERSTAND, dicomweb.DATA_SET_DOES_NOT_MATCH_SOP_CLASS]
    assert Instance.objects.count() == 1


@pytest.mark.django_db
def test_study_store_api__all_parts_failing_is_409(hospital_a, sender_a):
    response = stow(token_key(sender_a, hospital_a), multipart([b"garbage one", b"garbage two"]))

    assert response.status_code == 409
    assert not Study.objects.exists()


@pytest.mark.django_db
def test_study_store_api__study_url_rejects_instances_of_other_studies(hospital_a, sender_a, series, phantom_series):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        other = phantom_series(slices=8, size_px=64, severity="none", seed=8)[0].read_bytes()
    target = pydicom.dcmread(io.BytesIO(series[0]), stop_before_pixels=True).StudyInstanceUID

    response = stow(token_key(sender_a, hospital_a), multipart([series[0], other]),
                    url=f"/dicomweb/studies/{target}")

    assert response.status_code == 202, response.content
    [failed] = response.json()["00081198"]["Value"]
    assert failed["00081197"]["Value"] == [dicomweb.DATA_SET_DOES_NOT_MATCH_SOP_CLASS]
    assert list(Study.objects.values_list("study_instance_uid", flat=True)) == [target]


@pytest.mark.django_db
def test_study_store_api__non_dicom_part_type_fails_that_part(hospital_a, sender_a, series):
    body = multipart([series[0]]).replace(b"--%s--" % BOUNDARY.encode(), b"") + multipart(
        [b'{"00100010": {}}'], part_type="application/dicom+json")

    response = stow(token_key(sender_a, hospital_a), body)

    assert response.status_code == 202, response.content
    assert response.json()["00081198"]["Value"][0]["00081197"]["Value"] == [dicomweb.CANNOT_UNDERSTAND]


def shared_files(folder: str) -> list[Path]:
    root = SHARED_DATA / folder
    if not root.is_dir():
        pytest.skip(f"{root} is absent: the shared real-DICOM corpus is not mounted on this machine")
    return sorted(p for p in root.rglob("*.dcm") if p.is_file())


@pytest.mark.django_db
def test_study_store_api__real_lung_ct_series_is_stored_whole(hospital_a, sender_a):
    files = shared_files("dicom-series-lung-pet-ct-dx")

    response = stow(token_key(sender_a, hospital_a), multipart([p.read_bytes() for p in files]))

    assert response.status_code == 200, response.content
    assert len(response.json()["00081199"]["Value"]) == len(files) == 30
    assert Instance.objects.filter(series__study__hospital=hospital_a).count() == len(files)


@pytest.mark.django_db
def test_study_store_api__real_format_test_files_each_get_an_answer(hospital_a, sender_a):
    files = shared_files("dicom-format-tests")

    response = stow(token_key(sender_a, hospital_a), multipart([p.read_bytes() for p in files]))

    assert response.status_code == 202, response.content
    body = response.json()
    stored, failed = body["00081199"]["Value"], body["00081198"]["Value"]
    assert len(stored) + len(failed) == len(files), failed
    enhanced = pydicom.dcmread(next(p for p in files if p.name == "eCT_Supplemental.dcm"), stop_before_pixels=True)
    [enhanced_failure] = [f for f in failed if f["00081155"].get("Value") == [enhanced.SOPInstanceUID]]
    assert enhanced_failure["00081197"]["Value"] == [dicomweb.DATA_SET_DOES_NOT_MATCH_SOP_CLASS]
    # 693_UNCI and 693_UNCR are one instance in two encodings: the second is a duplicate, reported stored.
    assert Instance.objects.count() == len({item["00081155"]["Value"][0] for item in stored})
