"""REST API of studies, including the bad-input corpus run end to end through POST /api/studies/."""
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pydicom.uid import generate_uid

from tests.corpus import make_bad_inputs as corpus
from tests.unit.studies.conftest import as_uploads
from tests.unit.studies.helpers import read_paths, receive
from triage.accounts.models import Role
from triage.audit.models import AuditEvent
from triage.studies import uploads
from triage.studies.dicom_headers import (ENHANCED_CT_MSG, INVALID_UID_MSG, MISSING_TAG_MSG, NO_PIXEL_DATA_MSG, NOT_DICOM_MSG,
                                          TRUNCATED_MSG, UNDECODABLE_SYNTAX_MSG, WRONG_MODALITY_MSG,
                                          WRONG_PHOTOMETRIC_MSG)
from triage.studies.models import Instance, Series, Study

pytestmark = pytest.mark.django_db
URL = "/api/studies/"
SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def post(client, hospital, files: dict[str, bytes]):
    return client.post(URL, {"hospital": str(hospital.uuid), "files": as_uploads(files)}, format="multipart")


def single_file_case(name: str, reason: str):
    def run(client, hospital, **_):
        response = post(client, hospital, {name: corpus.bad_inputs()[name]})
        return response, 422, [reason]
    return run


def zip_case(builder, reasons):
    def run(client, hospital, **_):
        response = post(client, hospital, {"upload.zip": builder()})
        return response, 422, reasons
    return run


def mixed_studies(client, hospital, **_):
    files = {f"a-{n}": d for n, d in corpus.ct_series(slices=2).items()}
    files |= {f"b-{n}": d for n, d in corpus.ct_series(slices=2).items()}
    response = post(client, hospital, files)
    assert len(response.json()["studies"]) == 2 and Study.objects.count() == 2
    return response, 201, ["", "", "", ""]


def inconsistent_size(client, hospital, **_):
    study_uid, series_uid = generate_uid(), generate_uid()
    files = {"a.dcm": corpus.ct_slice(study_uid=study_uid, series_uid=series_uid),
             "b.dcm": corpus.ct_slice(study_uid=study_uid, series_uid=series_uid, size_px=16, index=1)}
    return post(client, hospital, files), 200, ["", "Image size 16x16 differs from the rest of its series (32x32)."]


def missing_position(client, hospital, **_):
    response = post(client, hospital, corpus.ct_series(slices=2, with_position=False))
    return response, 201, ["", ""]


def duplicate_instance(client, hospital, **_):
    one = corpus.ct_slice()
    first = post(client, hospital, {"one.dcm": one})
    response = post(client, hospital, {"one-again.dcm": one})
    assert response.json()["studies"] == first.json()["studies"] and Instance.objects.count() == 1
    assert response.json()["files"][0]["status"] == "duplicate"
    return response, 201, ["Already received (same SOP Instance UID in this study)."]


def whole_study_again(client, hospital, **_):
    files = corpus.ct_series(slices=3)
    first = post(client, hospital, files)
    response = post(client, hospital, {"study.zip": corpus.zip_of(files)})
    assert response.json()["studies"] == first.json()["studies"] and Instance.objects.count() == 3
    return response, 201, ["Already received (same SOP Instance UID in this study)."] * 3


def oversize(client, hospital, settings, **_):
    settings.UPLOAD_MAX_BYTES = 2000
    response = post(client, hospital, {"big.dcm": corpus.ct_slice(size_px=64)})
    assert response.json()["message"] == "Upload is larger than the limit of 0 MB; split it into smaller uploads."
    return response, 413, None


def foreign_hospital(client, hospital, make_hospital, **_):
    response = post(client, make_hospital(), corpus.ct_series(slices=1))
    assert response.json() == {"message": "Not found.", "extra": {}}
    return response, 404, None


CASES = {
    "non_dicom": single_file_case("not_dicom.dcm", NOT_DICOM_MSG),
    "truncated": single_file_case("truncated.dcm", TRUNCATED_MSG),
    "no_pixel_data": single_file_case("no_pixel_data.dcm", NO_PIXEL_DATA_MSG),
    "mr": single_file_case("mr_modality.dcm", WRONG_MODALITY_MSG.format(modality="MR")),
    "cr": single_file_case("cr_modality.dcm", WRONG_MODALITY_MSG.format(modality="CR")),
    "sr": single_file_case("sr_modality.dcm", WRONG_MODALITY_MSG.format(modality="SR")),
    "secondary_capture_rgb": single_file_case("rgb_secondary_capture.dcm", WRONG_MODALITY_MSG.format(modality="OT")),
    "rgb_ct": single_file_case("rgb_ct.dcm", WRONG_PHOTOMETRIC_MSG.format(value="RGB")),
    "enhanced_ct": single_file_case("enhanced_ct.dcm", ENHANCED_CT_MSG),
    "overlong_uid": single_file_case("overlong_study_uid.dcm", INVALID_UID_MSG.format(
        keyword="StudyInstanceUID", tag="(0020,000D)")),
    "undecodable_syntax": single_file_case("undecodable_syntax.dcm", UNDECODABLE_SYNTAX_MSG.format(
        name="MPEG2 Main Profile / Main Level", uid=corpus.MPEG2_UID)),
    "missing_required_tag": single_file_case("missing_pixel_spacing.dcm", MISSING_TAG_MSG.format(
        keyword="PixelSpacing", tag="(0028,0030)")),
    "zip_bomb": zip_case(corpus.zip_bomb, [uploads.ZIP_BOMB_MSG.format(ratio=uploads.MAX_COMPRESSION_RATIO)]),
    "zip_traversal_absolute_symlink": zip_case(corpus.traversal_zip, [uploads.UNSAFE_PATH_MSG, uploads.UNSAFE_PATH_MSG,
                                                                      uploads.SYMLINK_MSG]),
    "nested_zip": zip_case(corpus.nested_zip, [uploads.NESTED_ZIP_MSG]),
    "mixed_studies_split": mixed_studies,
    "inconsistent_rows_columns": inconsistent_size,
    "missing_image_position": missing_position,
    "duplicate_instance": duplicate_instance,
    "reupload_whole_study": whole_study_again,
    "over_size_limit": oversize,
    "foreign_hospital": foreign_hospital,
}


@pytest.mark.parametrize("case", CASES)
def test_study_upload_api__bad_input_corpus(case, hospital_a, make_user, make_hospital, api_client_for, settings,
                                            study_storage):
    client = api_client_for(make_user(hospital=hospital_a, role=Role.CLINICIAN))
    response, expected_status, reasons = CASES[case](client, hospital_a, settings=settings,
                                                     make_hospital=make_hospital)
    assert response.status_code == expected_status, response.json()
    body = response.json()
    if reasons is not None:
        files = body["extra"]["files"] if expected_status == 422 else body["files"]
        assert [f["reason"] for f in files] == reasons
    stored = {p.name for p in study_storage.rglob("*.dcm")}
    assert stored == {f"{sha}.dcm" for sha in Instance.objects.values_list("sha256", flat=True)}
    if expected_status in (404, 413, 422):
        assert not Study.objects.exists() and not Series.objects.exists() and not stored
    assert "CORPUS" not in response.content.decode()  # no patient identifiers in messages


def test_study_upload_api__zip_entries_never_touch_the_filesystem_by_name(hospital_a, make_user, api_client_for,
                                                                          study_storage, tmp_path):
    client = api_client_for(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))
    post(client, hospital_a, {"x.zip": corpus.traversal_zip()})
    assert not (tmp_path / "escape.dcm").exists() and not (study_storage.parent / "escape.dcm").exists()


def test_study_upload_api__zip_of_phantom_creates_study(hospital_a, make_user, api_client_for, phantom_series):
    client = api_client_for(make_user(hospital=hospital_a, role=Role.ADMIN))
    response = post(client, hospital_a, {"phantom.zip": corpus.zip_of(read_paths(phantom_series(slices=12)))})
    assert response.status_code == 201 and response.json()["accepted"] == 12


def test_study_upload_api__missing_files_is_400(hospital_a, make_user, api_client_for):
    client = api_client_for(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))
    response = client.post(URL, {"hospital": str(hospital_a.uuid)}, format="multipart")
    assert response.status_code == 400 and response.json()["message"] == "No files were uploaded."


def test_study_list_api__hides_other_hospitals_and_filters_status(hospital_a, hospital_b, make_user,
                                                                  api_client_for):
    mine = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    receive(hospital=hospital_a, user=mine, files=corpus.ct_series(slices=1))
    receive(hospital=hospital_b, user=make_user(hospital=hospital_b, role=Role.RADIOLOGIST),
            files=corpus.ct_series(slices=1))
    client = api_client_for(mine)
    body = client.get(URL).json()
    assert body["count"] == 1 and body["results"][0]["hospital"] == str(hospital_a.uuid)
    assert client.get(URL, {"status": "ready"}).json()["count"] == 0
    assert client.get(URL, {"hospital": str(hospital_b.uuid)}).json()["count"] == 0


def test_study_detail_api__audits_view_and_hides_foreign_study(hospital_a, hospital_b, make_user, api_client_for):
    mine = make_user(hospital=hospital_a, role=Role.CLINICIAN)
    stranger = make_user(hospital=hospital_b, role=Role.ADMIN)
    study_uuid = receive(hospital=hospital_a, user=mine, files=corpus.ct_series(slices=2)).studies[0]
    response = api_client_for(mine).get(f"{URL}{study_uuid}/")
    assert response.status_code == 200 and response.json()["series"][0]["slice_count"] == 2
    assert AuditEvent.objects.filter(action="study.viewed", actor=mine, object_id=study_uuid).count() == 1
    foreign = api_client_for(stranger).get(f"{URL}{study_uuid}/")
    assert foreign.status_code == 404 and foreign.json() == {"message": "Study not found.", "extra": {}}


def test_study_reprocess_api__illegal_from_received_is_409(hospital_a, make_user, api_client_for):
    admin = make_user(hospital=hospital_a, role=Role.ADMIN)
    study_uuid = receive(hospital=hospital_a, user=admin, files=corpus.ct_series(slices=1)).studies[0]
    response = api_client_for(admin).post(f"{URL}{study_uuid}/reprocess/")
    assert response.status_code == 409
    assert response.json()["message"] == "A study cannot go from received to queued."


def needs_shared_data(path: Path):
    return pytest.mark.skipif(not path.exists(), reason=f"shared test data not present at {path}")


FORMAT_TESTS = SHARED_DATA / "dicom-format-tests"


@needs_shared_data(FORMAT_TESTS)
@pytest.mark.parametrize("relative, status, reason", [
    ("pydicom_data_1.0.0/693_J2KR.dcm", "accepted", ""),
    ("notZaki_DICOMSamples/CT_JPEG70.dcm", "accepted", ""),
    ("pydicom_3.0.2/CT_small.dcm", "accepted", ""),
    ("pydicom_data_1.0.0/eCT_Supplemental.dcm", "rejected", ENHANCED_CT_MSG),
    ("notZaki_DICOMSamples/CT_Implicit_Little_Headless_Retired.dcm", "rejected",
     MISSING_TAG_MSG.format(keyword="SOPInstanceUID", tag="(0008,0018)")),
])
def test_study_upload_api__real_format_files(relative, status, reason, hospital_a, make_user, api_client_for):
    client = api_client_for(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))
    response = post(client, hospital_a, {Path(relative).name: (FORMAT_TESTS / relative).read_bytes()})
    body = response.json()
    files = body["extra"]["files"] if response.status_code == 422 else body["files"]
    assert (files[0]["status"], files[0]["reason"]) == (status, reason)


@needs_shared_data(FORMAT_TESTS)
def test_decode_instance__real_compressed_files_decode(hospital_a, make_user):
    from triage.studies.services.ingest import _decode_instance
    user = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    names = ["pydicom_data_1.0.0/693_J2KR.dcm", "notZaki_DICOMSamples/CT_JPEG70.dcm"]
    receive(hospital=hospital_a, user=user, files={n: (FORMAT_TESTS / n).read_bytes() for n in names})
    results = [_decode_instance(i) for i in Instance.objects.all()]
    assert [error for _, error in results] == ["", ""]


SBU = SHARED_DATA / "dicom-covid19-ny-sbu"


@needs_shared_data(SBU)
def test_study_upload_api__covid19_ny_sbu_axial_files_accepted(hospital_a, make_user, api_client_for):
    client = api_client_for(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))
    paths = sorted(SBU.glob("*/axial/*.dcm"))[:6]
    response = post(client, hospital_a, {f"{p.parent.parent.name}-{p.name}": p.read_bytes() for p in paths})
    assert response.status_code == 201 and response.json()["accepted"] == len(paths)


def test_study_upload_api__unauthenticated_is_rejected(hospital_a, api_client_for):
    response = api_client_for().post(URL, {"hospital": str(hospital_a.uuid),
                                           "files": [SimpleUploadedFile("a.dcm", b"x")]}, format="multipart")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert not Study.objects.exists()


def test_study_upload_api__over_size_is_refused_before_the_body_is_read(hospital_a, make_user, settings):
    from unittest import mock

    from django.test import Client
    settings.UPLOAD_MAX_BYTES = 1000
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))
    with mock.patch("django.http.request.HttpRequest._load_post_and_files") as parse:
        response = client.post(URL, {"hospital": str(hospital_a.uuid), "files": as_uploads(corpus.ct_series(slices=2))})
    assert response.status_code == 413 and not parse.called
