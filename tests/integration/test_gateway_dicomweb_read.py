"""QIDO-RS and WADO-RS driven by the reference client, ``dicomweb-client``, against a live server."""
import io
import warnings

import highdicom as hd
import numpy as np
import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from PIL import Image

from tests.unit.worklist.factories import add_overlay, add_result
from triage.accounts import services as account_services
from triage.accounts.models import Role
from triage.audit.models import AuditEvent
from triage.exports import dicom_objects
from triage.results.models import Result
from triage.studies.audit_actions import StudyAction
from triage.studies.models import Series, Study

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch, settings, tmp_path):
    monkeypatch.setattr("triage.pipeline.services.enqueue_ingest", lambda *, study_id: True)
    settings.STORAGES = settings.STORAGES | {"default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "s")}}}


def token_for(user, hospital) -> str:
    return account_services.create_api_token(actor=user, name="viewer", hospital=hospital)[1]


def client_for(live_server, key: str) -> DICOMwebClient:
    return DICOMwebClient(url=f"{live_server.url}/dicomweb", headers={"Authorization": f"Token {key}"})


def phantom(phantom_series, **options) -> list[pydicom.Dataset]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return [pydicom.dcmread(p) for p in phantom_series(slices=options.pop("slices", 8), size_px=64, **options)]


@pytest.fixture
def radiologist_client(live_server, transactional_db, hospital_a, make_user):
    """A radiologist of hospital A and a dicomweb-client with a token bound to A."""
    user = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    return client_for(live_server, token_for(user, hospital_a)), user


@pytest.fixture
def stored(radiologist_client, phantom_series):
    """Two studies STOW-ed into hospital A; yield (client for A, [datasets of study 1], [of study 2])."""
    client, user = radiologist_client
    first = phantom(phantom_series, severity="none", seed=21, patient_id="QIDO-1", accession_number="ACC1")
    second = phantom(phantom_series, severity="none", seed=22, patient_id="QIDO-2", accession_number="ACC2")
    second[0].StudyTime = "235900"  # not a column: matched against the header
    for ds in second[1:]:
        ds.StudyTime = "235900"
    client.store_instances(first + second)
    return client, first, second, user


def uid_of(answer: dict, tag: str) -> str:
    return answer[tag]["Value"][0]


def test_study_search_api__matches_keys_wildcards_ranges_and_includefield(stored):
    client, first, second, _ = stored

    assert {uid_of(a, "0020000D") for a in client.search_for_studies()} == {first[0].StudyInstanceUID,
                                                                         second[0].StudyInstanceUID}
    [hit] = client.search_for_studies(search_filters={"PatientID": "QIDO-1"})
    assert uid_of(hit, "00100020") == "QIDO-1"
    assert hit["00201208"]["Value"] == [8]  # NumberOfStudyRelatedInstances
    assert hit["00080061"]["Value"] == ["CT"]
    assert hit["00081190"]["Value"][0].endswith(f"/dicomweb/studies/{first[0].StudyInstanceUID}")
    assert len(client.search_for_studies(search_filters={"PatientName": "phantom^*"})) == 2  # PN: any case
    assert len(client.search_for_studies(search_filters={"AccessionNumber": "ACC?"})) == 2
    date = first[0].StudyDate
    assert len(client.search_for_studies(search_filters={"StudyDate": f"{date}-"})) == 2
    assert client.search_for_studies(search_filters={"StudyDate": "19000101-19001231"}) == []
    [late] = client.search_for_studies(search_filters={"StudyTime": "2300-2359"})
    assert uid_of(late, "0020000D") == second[0].StudyInstanceUID
    [with_field] = client.search_for_studies(search_filters={"PatientID": "QIDO-2"}, fields=["Manufacturer"])
    assert uid_of(with_field, "00080070") == "CT Triage phantom"
    assert len(client.search_for_studies(limit=1)) == 1
    assert len(client.search_for_studies(limit=1, offset=1)) == 1


def test_series_and_instance_search_api__answer_within_a_study(stored):
    client, first, _, _ = stored
    study_uid = first[0].StudyInstanceUID

    [series] = client.search_for_series(study_uid)
    instances = client.search_for_instances(study_uid, series_instance_uid=first[0].SeriesInstanceUID)
    [one] = client.search_for_instances(study_uid, search_filters={"SOPInstanceUID": first[2].SOPInstanceUID})

    assert uid_of(series, "0020000E") == first[0].SeriesInstanceUID
    assert series["00201209"]["Value"] == [8]  # NumberOfSeriesRelatedInstances
    assert {uid_of(i, "00080018") for i in instances} == {ds.SOPInstanceUID for ds in first}
    assert one["00280010"]["Value"] == [64]
    assert len(client.search_for_series(search_filters={"Modality": "CT"})) == 2


def test_study_search_api__non_matching_key_is_400_and_foreign_parameter_a_warning(stored, live_server):
    client, *_ = stored

    refused = client._session.get(f"{live_server.url}/dicomweb/studies?Manufacturer=ACME")
    warned = client._session.get(f"{live_server.url}/dicomweb/studies?_=1718&PatientID=QIDO-1")

    assert refused.status_code == 400
    assert "Manufacturer" in refused.json()["message"]
    assert "PatientID" in refused.json()["extra"]["matching_keys"]
    assert warned.status_code == 200 and len(warned.json()) == 1
    assert warned.headers["Warning"].startswith('299 - "Query parameters that are not DICOM attributes')


def test_instances_retrieve_api__returns_the_stored_instances_and_metadata(stored):
    client, first, _, _ = stored
    study_uid, series_uid = first[0].StudyInstanceUID, first[0].SeriesInstanceUID

    study = client.retrieve_study(study_uid)
    instance = client.retrieve_instance(study_uid, series_uid, first[1].SOPInstanceUID)
    metadata = client.retrieve_series_metadata(study_uid, series_uid)

    assert sorted(ds.SOPInstanceUID for ds in study) == sorted(ds.SOPInstanceUID for ds in first)
    np.testing.assert_array_equal(instance.pixel_array, first[1].pixel_array)
    assert len(metadata) == 8
    assert all("BulkDataURI" in item["7FE00010"] and "Value" not in item["7FE00010"] for item in metadata)
    assert {item["00080018"]["Value"][0] for item in metadata} == {ds.SOPInstanceUID for ds in first}


def test_frames_and_rendered_retrieve_api__return_pixels_and_images(stored):
    client, first, _, _ = stored
    ids = (first[0].StudyInstanceUID, first[0].SeriesInstanceUID, first[0].SOPInstanceUID)

    [frame] = client.retrieve_instance_frames(*ids, frame_numbers=[1])
    png = client.retrieve_instance_rendered(*ids, media_types=("image/png",))
    jpeg = client.retrieve_instance_frames_rendered(*ids, frame_numbers=[1], media_types=("image/jpeg",))

    np.testing.assert_array_equal(np.frombuffer(frame, dtype="<i2").reshape(64, 64), first[0].pixel_array)
    assert Image.open(io.BytesIO(png)).size == (64, 64)
    assert Image.open(io.BytesIO(jpeg)).format == "JPEG"


def test_dicomweb_read__other_hospitals_token_sees_nothing(stored, live_server, hospital_b, make_user):
    _, first, _, _ = stored
    other = client_for(live_server, token_for(make_user(hospital=hospital_b, role=Role.RADIOLOGIST), hospital_b))

    assert other.search_for_studies() == []
    for read in (other.retrieve_study_metadata, other.search_for_series):
        with pytest.raises(requests.HTTPError) as error:
            read(first[0].StudyInstanceUID)
        assert error.value.response.status_code == 404


def test_dicomweb_read__session_login_reads_and_every_read_is_audited(stored, live_server, client):
    _, first, _, user = stored
    client.force_login(user)
    study_uid = first[0].StudyInstanceUID

    searched = client.get("/dicomweb/studies", {"PatientID": "QIDO-1"})
    retrieved = client.get(f"/dicomweb/studies/{study_uid}/metadata")

    assert searched.status_code == retrieved.status_code == 200
    listed = AuditEvent.objects.get(action=StudyAction.LISTED, actor=user)
    assert listed.extra["via"] == "qido-rs" and len(listed.extra["studies"]) == 1
    assert AuditEvent.objects.filter(action=StudyAction.VIEWED, actor=user).count() == 1
    assert client.get("/dicomweb/studies").status_code == 200
    client.logout()
    assert client.get("/dicomweb/studies").status_code in (401, 403)


def test_dicomweb_read__answers_the_requests_ohif_makes(stored, live_server):
    client, first, _, _ = stored
    session, base = client._session, f"{live_server.url}/dicomweb"
    study_uid, series_uid = first[0].StudyInstanceUID, first[0].SeriesInstanceUID

    studies = session.get(f"{base}/studies?limit=101&offset=0&fuzzymatching=false"
                          "&includefield=00081030%2C00080060&PatientName=*hantom*")
    series = session.get(f"{base}/studies/{study_uid}/series?includefield=00080021%2C00080031")
    metadata = session.get(f"{base}/studies/{study_uid}/series/{series_uid}/metadata")
    frame = session.get(f"{base}/studies/{study_uid}/series/{series_uid}/instances/{first[0].SOPInstanceUID}/frames/1",
                        headers={"Accept": "multipart/related; type=application/octet-stream; transfer-syntax=*"})

    assert [r.status_code for r in (studies, series, metadata, frame)] == [200] * 4
    assert len(studies.json()) == 2 and "00081030" in studies.json()[0]
    assert series.json()[0]["00080021"]["Value"] == [first[0].SeriesDate]
    assert len(metadata.json()) == 8
    assert frame.headers["Content-Type"].startswith("multipart/related")
    assert len(frame.content) > 64 * 64 * 2


SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"  # Segmentation
SC_CLASS = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture


@pytest.fixture
def analysed(radiologist_client, phantom_series):
    """A study STOW-ed into hospital A with a current AI result; yield (client, source datasets, study)."""
    client, _ = radiologist_client
    source = phantom(phantom_series, slices=12, severity="moderate", seed=5)
    client.store_instances(source)
    study = Study.objects.get(study_instance_uid=source[0].StudyInstanceUID)
    Study.objects.filter(pk=study.pk).update(selected_series=Series.objects.get(study=study))
    study.refresh_from_db()
    result = add_result(study=study, probability=0.87, label="covid19", lesion_fraction=0.12, severity=9)
    add_overlay(result=result, slice_index=5, size_px=64)
    return client, source, study


def test_dicomweb_read__serves_the_current_results_sr_seg_and_key_images(analysed, live_server, hospital_b,
                                                                          make_user):
    client, source, study = analysed
    study_uid = source[0].StudyInstanceUID

    series = client.search_for_series(study_uid)
    by_number = {s["00200011"]["Value"][0]: uid_of(s, "0020000E") for s in series if "Value" in s["00200011"]}
    sr_series, seg_series, sc_series = (by_number[n] for n in (dicom_objects.SR_SERIES_NUMBER,
                                                               dicom_objects.SEG_SERIES_NUMBER,
                                                               dicom_objects.SC_SERIES_NUMBER))
    [sr_answer] = client.search_for_instances(study_uid, series_instance_uid=sr_series)
    sr = client.retrieve_instance(study_uid, sr_series, uid_of(sr_answer, "00080018"))
    sr_meta = client.retrieve_instance_metadata(study_uid, sr_series, sr.SOPInstanceUID)
    [seg_meta] = client.retrieve_series_metadata(study_uid, seg_series)
    seg = client.retrieve_instance(study_uid, seg_series, uid_of(seg_meta, "00080018"))
    [key_image] = client.retrieve_series(study_uid, sc_series)

    assert len(series) == 4 and {uid_of(s, "00080060") for s in series} >= {"CT", "SR", "SEG"}
    assert sr.SOPClassUID == uid_of(sr_answer, "00080016") == SR_CLASS
    assert hd.sr.Comprehensive3DSR.from_dataset(sr).ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert "7FE00010" not in sr_meta  # a report has no pixel data to point at
    assert uid_of(seg_meta, "00080016") == SEG_CLASS and "BulkDataURI" in seg_meta["7FE00010"]
    assert hd.seg.Segmentation.from_dataset(seg).number_of_segments == 4
    assert key_image.SOPClassUID == SC_CLASS and key_image.StudyInstanceUID == study_uid

    # Only the current result is served: with none current (a candidate only), the CT series is all.
    Result.objects.filter(study=study).update(is_current=False)
    assert [uid_of(s, "00080060") for s in client.search_for_series(study_uid)] == ["CT"]
    Result.objects.filter(study=study).update(is_current=True)

    other = client_for(live_server, token_for(make_user(hospital=hospital_b, role=Role.RADIOLOGIST), hospital_b))
    for read in (lambda: other.search_for_series(study_uid),
                 lambda: other.retrieve_instance(study_uid, sr_series, sr.SOPInstanceUID),
                 lambda: other.retrieve_series_metadata(study_uid, seg_series)):
        with pytest.raises(requests.HTTPError) as error:
            read()
        assert error.value.response.status_code == 404
