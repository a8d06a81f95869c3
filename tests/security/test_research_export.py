"""The research export, through its real endpoints: no PHI survives, pseudonyms are keyed and consistent.

The PS3.15 profile itself (every DICOM tag, UID remapping inside files) is tested in
tests/unit/monitoring/test_deidentify.py; this checks what actually leaves through the API and CSV.
"""
import csv
import io

import pytest

from tests.security.conftest import client_as
from tests.unit.worklist.factories import add_result
from triage.studies.models import Study

# Row fields allowed out: pseudonyms, hospital code, retained patient characteristics, AI and outcome values.
ALLOWED_FIELDS = {"study", "patient", "hospital", "patient_sex", "patient_age", "model_version",
                  "covid_probability", "predicted_label", "lesion_fraction_both", "lesion_total_ml",
                  "severity_total", "radiologist_label", "pcr_result"}


def phi_values(study: Study) -> list[str]:
    """PS3.15 basic-profile values of the study as stored: names, ids, UIDs, dates, free text."""
    return [study.patient_id, study.patient_name, study.patient_name.split("^")[0], study.accession_number,
            study.study_instance_uid, str(study.uuid), study.study_description,
            study.patient_birth_date.isoformat(), study.patient_birth_date.strftime("%Y%m%d"),
            study.study_date.isoformat(), study.study_date.strftime("%Y%m%d")]


@pytest.fixture
def second_visit(world):
    """Another study of hospital A's patient, so pseudonyms can be compared across studies."""
    first = world.a.study
    study = Study.objects.create(hospital=first.hospital, status=Study.Status.READY,
                                 study_instance_uid="1.2.826.0.1.3680043.10.99.200", patient_id=first.patient_id,
                                 patient_name=first.patient_name, accession_number="ACC-A-SECOND",
                                 patient_birth_date=first.patient_birth_date, study_date=first.study_date)
    add_result(study=study, probability=0.3, label="normal")
    return study


@pytest.mark.django_db
def test_research_export__api_and_csv_hold_no_phi_and_consistent_pseudonyms(world, second_visit):
    client = client_as(world, "admin")
    hospital = world.a.hospital.uuid

    rows = client.get(f"/api/monitoring/hospitals/{hospital}/research-export/").json()
    again = client.get(f"/api/monitoring/hospitals/{hospital}/research-export/").json()
    csv_response = client.get(f"/monitoring/hospitals/{hospital}/research.csv")
    csv_rows = list(csv.DictReader(io.StringIO(csv_response.content.decode())))

    assert len(rows) == 2 and set(rows[0]) == ALLOWED_FIELDS
    exported = csv_response.content.decode() + str(rows)
    for study in (world.a.study, second_visit):
        leaked = [v for v in phi_values(study) if v and v in exported]
        assert not leaked, f"PHI left through the research export: {leaked}"
    assert rows == again, "pseudonyms must be stable across exports"
    assert [r["study"] for r in csv_rows] == [r["study"] for r in rows]
    assert rows[0]["patient"] == rows[1]["patient"], "one patient must keep one pseudonym"
    assert rows[0]["study"] != rows[1]["study"]


@pytest.mark.django_db
def test_research_export__pooled_export_keeps_hospitals_pseudonyms_apart(world):
    rows = client_as(world, "platform_admin").get("/api/monitoring/research-export/").json()

    assert {r["hospital"] for r in rows} == {world.a.hospital.code, world.b.hospital.code}
    assert len({r["patient"] for r in rows}) == 2
    exported = str(rows)
    assert not [v for t in (world.a, world.b) for v in phi_values(t.study) if v in exported]


@pytest.mark.django_db
def test_research_export__same_patient_id_at_two_hospitals_is_two_pseudonyms(world):
    """Patient IDs are issued per hospital: equal IDs at two hospitals are two people, never linked."""
    Study.objects.filter(pk=world.b.study.pk).update(patient_id=world.a.study.patient_id)

    rows = client_as(world, "platform_admin").get("/api/monitoring/research-export/").json()

    by_hospital = {r["hospital"]: r["patient"] for r in rows}
    assert by_hospital[world.a.hospital.code] != by_hospital[world.b.hospital.code]
