"""Two hospitals holding one of every object, and the principals that probe them.

``world`` builds hospital A and hospital B the same way, through the real services where one
exists: a ready study with stored DICOM slices, a current Result with SliceScores, Overlays and a
Quantification, a signed Report, a clinician Decision and a PCR outcome, a DICOM node, an API
token and an extra membership. Each tenant carries ``params`` (URL parameter name -> real id of
that hospital) and ``markers`` (strings that must never appear in another hospital's responses).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from tests.unit.worklist.factories import add_overlay, add_result, ct_dicom, store_series
from triage.accounts import services as account_services
from triage.accounts.invites import set_password_path
from triage.accounts.models import Role
from triage.decisions import services as decision_services
from triage.exports import services as export_services
from triage.exports.models import ExportJob
from triage.gateway import services as gateway_services
from triage.results.models import Overlay
from triage.results.services import mark_candidate
from triage.studies.models import Study
from triage.worklist.services import refresh_worklist_entry

SLICES = 3
KEY_SLICE = 1


@dataclass
class Tenant:
    """One hospital, its staff and one of each of its objects."""

    hospital: object
    admin: object
    radiologist: object
    clinician: object
    study: Study
    token_key: str
    params: dict[str, object]
    markers: set[str] = field(default_factory=set)


@dataclass
class World:
    a: Tenant
    b: Tenant
    platform_admin: object
    outsider: object  # authenticated, no membership anywhere


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def tiny_ct(**fields) -> bytes:
    """A valid 16x16 CT instance (the smallest size ingestion accepts)."""
    return ct_dicom(np.arange(16 * 16, dtype=np.int16).reshape(16, 16) * 4, **fields)


def _build_study(*, hospital, code: str, radiologist, clinician) -> tuple[Study, list[str]]:
    study = Study.objects.create(
        hospital=hospital, status=Study.Status.READY, study_instance_uid=f"1.2.826.0.1.3680043.10.99.{ord(code)}",
        accession_number=f"ACC-{code.upper()}-7731", patient_id=f"PID-{code.upper()}-55012",
        patient_name=f"Doe^{code.upper()}atient", patient_age="061Y", patient_sex="F",
        patient_birth_date=date(1961, 4, 2), study_date=date(2026, 1, 5), study_description=f"Chest CT Doe{code}")
    store_series(study=study, files=[tiny_ct(z_mm=float(z), study_uid=study.study_instance_uid, number=z + 1)
                                     for z in range(SLICES)])
    result = add_result(study=study, probability=0.93, label="covid19", lesion_fraction=0.06, severity=4,
                        slice_probabilities=[0.2, 0.95, 0.4], key_slices=[KEY_SLICE])
    overlays = [add_overlay(result=result, slice_index=KEY_SLICE, size_px=16, kind=kind)
                for kind in (Overlay.Kind.GRADCAM, Overlay.Kind.LESION)]
    refresh_worklist_entry(study=study)
    from triage.reports.services import sign_report

    report = sign_report(study=study, actor=radiologist, label="covid19", expected_version=0)
    decision = decision_services.record_decision(study=study, actor=clinician, kind="nucleic_acid_test",
                                                 reason="security fixture")
    today = timezone.localdate()
    pcr = decision_services.record_pcr_outcome(study=study, actor=clinician, result="positive",
                                               sample_taken_on=today - timedelta(days=1), resulted_on=today,
                                               source="form")
    study.refresh_from_db()
    uuids = [study.uuid, result.uuid, report.uuid, decision.uuid, pcr.uuid, study.selected_series.uuid,
             *(o.uuid for o in overlays if hasattr(o, "uuid"))]
    return study, [str(u) for u in uuids] + [study.patient_id, study.accession_number, study.study_instance_uid]


def _tenant(*, hospital, code: str, make_user) -> Tenant:
    admin = make_user(hospital=hospital, role=Role.ADMIN)
    radiologist = make_user(hospital=hospital, role=Role.RADIOLOGIST)
    clinician = make_user(hospital=hospital, role=Role.CLINICIAN)
    study, markers = _build_study(hospital=hospital, code=code, radiologist=radiologist, clinician=clinician)
    member = account_services.grant_membership(actor=None, hospital=hospital, user=make_user(), role="clinician")
    token, key = account_services.create_api_token(actor=radiologist, name=f"pacs-{code}", hospital=hospital)
    node = gateway_services.create_dicom_node(actor=admin, hospital=hospital, ae_title=f"CT_{code.upper()}")
    destination = export_services.create_destination(actor=admin, hospital=hospital, name=f"PACS {code}",
                                                     kind="stow", url="http://127.0.0.1:9/dw",
                                                     password=f"secret-{code}-4471")
    job = ExportJob.objects.create(destination=destination, study=study, revision=1, status="failed",
                                   last_error="peer down")
    # A model in shadow on this hospital only: its comparison pages are the hospital's.
    candidate = mark_candidate(actor=make_user(is_platform_admin=True), reference=SHADOW_MODEL, hospital=hospital)
    params = {"hospital_uuid": hospital.uuid, "study_uuid": study.uuid, "membership_uuid": member.uuid,
              "token_uuid": token.uuid, "node_uuid": node.uuid, "study_instance_uid": study.study_instance_uid,
              "index": KEY_SLICE, "kind": Overlay.Kind.GRADCAM,
              "series_instance_uid": study.selected_series.series_instance_uid,
              "sop_instance_uid": study.selected_series.instances.order_by("id").first().sop_instance_uid,
              "frames": 1, "destination_uuid": destination.uuid, "job_uuid": job.uuid,
              "candidate_uuid": candidate.uuid,
              # The invite link of this hospital's new member (public, authorised by its token alone).
              **dict(zip(("uidb64", "token"), set_password_path(user=member.user).strip("/").split("/")[1:]))}
    markers = {*markers, f"secret-{code}-4471", str(destination.uuid), str(job.uuid), str(hospital.uuid), str(member.uuid), str(token.uuid), str(node.uuid), token.key_prefix,
               *(str(u.uuid) for u in (admin, radiologist, clinician, member.user))}
    return Tenant(hospital=hospital, admin=admin, radiologist=radiologist, clinician=clinician, study=study,
                  token_key=key, params=params, markers=markers)


@pytest.fixture
def world(hospital_a, hospital_b, make_user, study_storage) -> World:
    return World(a=_tenant(hospital=hospital_a, code="a", make_user=make_user),
                 b=_tenant(hospital=hospital_b, code="b", make_user=make_user),
                 platform_admin=make_user(is_platform_admin=True), outsider=make_user())


@pytest.fixture
def operations(world):
    """Every URL and API operation (URLconf and OpenAPI schema); see tests/security/discovery.py."""
    from tests.security.discovery import all_operations

    return all_operations(client_as(world, "platform_admin"))


SHADOW_MODEL = "covidnet3d-shallow/2026-12-01"  # a shipped model that is not the active one
TENANT_PRINCIPALS = ("radiologist", "clinician", "admin", "outsider", "token")


def client_as(world: World, principal: str, *, enforce_csrf: bool = False) -> APIClient:
    """A client authenticated as hospital A's ``principal``: a session login, or A's bound token."""
    client = APIClient(enforce_csrf_checks=enforce_csrf)
    if principal == "token":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.a.token_key}")
    elif principal == "anonymous":
        pass
    else:
        user = getattr(world, principal, None) or getattr(world.a, principal)
        client.force_login(user)
    return client


def today() -> date:
    return timezone.localdate()
