"""Every URL and API operation × every principal × own hospital / foreign hospital / anonymous.

Operations are discovered from the URLconf AND from the OpenAPI schema served at
``/api/schema/``, so a new URL or operation is covered the day it is added. An operation with a
path parameter that no tenant object provides fails with a message naming the parameter: add
the provider to ``Tenant.params`` in ``tests/security/conftest.py``.

Rules checked (hospital A's principals probing hospital B's real objects):

- foreign objects answer 404 with a body byte-identical to the one for a missing object, for
  every method (DICOMweb takes the hospital from the token, so its foreign and missing answers
  are identical too, and never 2xx); nothing of B changes and no audit row names B;
- list endpoints, pages and exports never contain B's ids or patient identifiers;
- public paths (login, health, the invite's token-authorised set-password pages) are left out:
  no hospital owns them (the invite token is tested in tests/unit/accounts);
- anonymous requests get 401 (APIs, DICOMweb) or a redirect to /login/ (pages);
- the same requests with A's own ids succeed for some principal (so a 404 means "not yours",
  not "broken route"), and a platform admin reaches B's objects.
"""
from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.security.conftest import TENANT_PRINCIPALS, World, client_as, tiny_ct
from tests.security.discovery import PUBLIC_PATHS, Operation
from triage.accounts.models import ApiToken, Membership
from triage.audit.models import AuditEvent
from triage.gateway.models import DicomNode
from triage.studies.models import Instance, Study

def missing_values(values: dict[str, object]) -> dict[str, object]:
    """The same parameters, naming objects that exist nowhere."""
    fresh = {k: uuid.uuid4() if k.endswith("_uuid") else v for k, v in values.items()}
    fresh["study_instance_uid"] = "2.25." + str(uuid.uuid4().int)
    return fresh


def call(client, operation: Operation, url: str, **extra):
    return getattr(client, operation.method)(url, data={}, format="json", **extra)


def b_state(world: World) -> tuple:
    b = world.b
    return (AuditEvent.objects.filter(hospital=b.hospital).count(),
            Study.objects.filter(hospital=b.hospital).count(),
            Instance.objects.filter(series__study__hospital=b.hospital).count(),
            list(Membership.objects.filter(hospital=b.hospital).values_list("uuid", "role").order_by("uuid")),
            list(ApiToken.objects.filter(hospital=b.hospital).values_list("uuid", "revoked_at").order_by("uuid")),
            list(DicomNode.objects.filter(hospital=b.hospital).values_list("uuid", "is_active").order_by("uuid")),
            b.hospital.__class__.objects.filter(pk=b.hospital.pk).values().get())


@pytest.mark.django_db
@pytest.mark.parametrize("principal", TENANT_PRINCIPALS)
def test_every_operation__foreign_object_is_404_identical_to_missing(principal, world, operations):
    client = client_as(world, principal)
    before = b_state(world)
    checked = 0
    for operation in (o for o in operations if o.params and o.template not in PUBLIC_PATHS):
        foreign = call(client, operation, operation.url(world.b.params))
        missing = call(client, operation, operation.url(missing_values(world.b.params)))
        where = f"{principal}: {operation} with hospital B's ids"
        assert foreign.status_code < 500, f"{where} -> {foreign.status_code}"
        if operation.is_page and principal == "token":  # pages know sessions only: a token is anonymous there
            assert foreign.status_code == 302 and foreign["Location"].startswith("/login/"), where
        elif not operation.template.startswith("/dicomweb/"):
            assert foreign.status_code == 404, f"{where} -> {foreign.status_code} {foreign.content[:200]!r}"
        else:
            assert foreign.status_code >= 400, f"{where} -> {foreign.status_code}"
        assert (foreign.status_code, foreign.content) == (missing.status_code, missing.content), (
            f"{where}: answer differs from a missing object's: {foreign.content[:200]!r} vs {missing.content[:200]!r}")
        checked += 1
    assert checked >= 30
    assert b_state(world) == before, "a foreign request changed hospital B or wrote an audit row naming it"


@pytest.mark.django_db
def test_every_get_operation__own_object_is_reachable(world, operations):
    """The positive control: with A's ids some principal of A gets the object (so 404 above means 'not yours')."""
    clients = {p: client_as(world, p) for p in TENANT_PRINCIPALS}
    unreachable = []
    for operation in (o for o in operations if o.params and o.template not in PUBLIC_PATHS and o.method == "get"):
        url = operation.url(world.a.params)
        statuses = {p: c.get(url).status_code for p, c in clients.items()}
        assert all(s < 500 for s in statuses.values()), f"{operation}: {statuses}"
        if not any(s == 200 for s in statuses.values()):
            unreachable.append(f"{operation}: {statuses}")
    assert not unreachable, "own objects unreachable for every role:\n" + "\n".join(unreachable)


@pytest.mark.django_db
def test_every_get_operation__platform_admin_reaches_any_hospital(world, operations):
    client = client_as(world, "platform_admin")
    for operation in (o for o in operations if o.params and o.template not in PUBLIC_PATHS and o.method == "get"):
        if "token_uuid" in operation.params or "membership_uuid" in operation.params:
            continue  # no GET route for these; kept for new ones
        response = client.get(operation.url(world.b.params))
        assert response.status_code == 200, f"platform admin: {operation} -> {response.status_code}"


@pytest.mark.django_db
@pytest.mark.parametrize("principal", TENANT_PRINCIPALS)
def test_every_get_operation__lists_pages_and_exports_hold_no_foreign_rows(principal, world, operations):
    client = client_as(world, principal)
    checked, own_rows_seen = 0, 0
    for operation in (o for o in operations if o.method == "get" and o.template not in PUBLIC_PATHS):
        url = operation.url(world.a.params)
        for query in ({}, {"reviewed": "all"}, {"hospital": world.b.hospital.uuid},
                      {"hospital_uuid": world.b.hospital.uuid}):
            response = client.get(url, query)
            assert response.status_code < 500, f"{principal}: GET {url} {query} -> {response.status_code}"
            body = b"".join(response) if response.streaming else response.content
            text = body.decode(errors="replace")
            leaked = sorted(m for m in world.b.markers if m in text)
            assert not leaked, f"{principal}: GET {url} {query} shows hospital B's {leaked}"
            own_rows_seen += world.a.study.patient_id in text
            checked += 1
    assert checked >= 60
    # The probe is not hollow: the same lists do show hospital A's study to its members.
    assert (own_rows_seen >= 3) == (principal != "outsider"), own_rows_seen


@pytest.mark.django_db
def test_every_operation__anonymous_gets_401_or_login_redirect(world, operations):
    client = client_as(world, "anonymous")
    checked = 0
    for operation in operations:
        if operation.template in PUBLIC_PATHS:
            continue
        url = operation.url(world.b.params)
        response = call(client, operation, url)
        if operation.is_page:
            assert response.status_code in (302, 403, 405), f"anonymous {operation} -> {response.status_code}"
            if response.status_code == 302:
                assert response["Location"].startswith("/login/"), f"anonymous {operation} -> {response['Location']}"
        else:
            assert response.status_code == 401, f"anonymous {operation} -> {response.status_code}"
        checked += 1
    assert checked >= 40


@pytest.mark.django_db
def test_hospital_list__shows_only_own_hospital(world):
    body = client_as(world, "clinician").get("/api/hospitals/").json()
    assert [h["uuid"] for h in body] == [str(world.a.hospital.uuid)]


@pytest.mark.django_db
@pytest.mark.parametrize("principal", ("admin", "radiologist", "token"))
def test_token_create__foreign_hospital_in_body_is_404(principal, world):
    response = client_as(world, principal).post("/api/tokens/", {"name": "x", "hospital": str(world.b.hospital.uuid)},
                                                format="json")
    assert response.status_code == 404
    assert not ApiToken.objects.filter(name="x").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("principal", ("radiologist", "token"))
def test_study_upload__foreign_hospital_in_body_is_404_and_stores_nothing(principal, world, study_storage):
    files_before = sorted(p for p in study_storage.rglob("*") if p.is_file())
    upload = SimpleUploadedFile("x.dcm", tiny_ct(), "application/dicom")
    response = client_as(world, principal).post(
        "/api/studies/", {"hospital": str(world.b.hospital.uuid), "files": [upload]}, format="multipart")
    assert response.status_code == 404, response.content
    assert sorted(p for p in study_storage.rglob("*") if p.is_file()) == files_before


@pytest.mark.django_db
def test_stow_into_foreign_study_uid__stores_into_the_tokens_hospital_only(world):
    """A's token posting instances that carry B's StudyInstanceUID to B's study URL never touches B."""
    from tests.integration.test_gateway import CONTENT_TYPE, multipart

    b_uid = world.b.study.study_instance_uid
    body = multipart([tiny_ct(study_uid=b_uid, z_mm=z) for z in range(2)])
    client = client_as(world, "token")
    b_instances = Instance.objects.filter(series__study=world.b.study).count()

    response = client.generic("POST", f"/dicomweb/studies/{b_uid}", data=body, content_type=CONTENT_TYPE)

    assert response.status_code == 200, response.content
    assert Instance.objects.filter(series__study=world.b.study).count() == b_instances
    assert Study.objects.get(study_instance_uid=b_uid, hospital=world.a.hospital).hospital == world.a.hospital
