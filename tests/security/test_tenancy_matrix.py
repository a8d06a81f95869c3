"""Every URL, every role: hospital B's objects are 404 for hospital A's users; anonymous gets nothing.

Endpoints are discovered from the URLconf, so a new URL is covered the day it is added. A URL
with a parameter this test cannot fill with another hospital's object fails the test: add a
provider to FOREIGN_OBJECTS for it.
"""
import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from triage.accounts import services
from triage.accounts.models import Role
from triage.gateway import services as gateway_services
from triage.studies.models import Study

PUBLIC_PATHS = {"/login/", "/api/health/"}
METHODS = ("get", "post", "put", "patch", "delete")


def discovered_patterns(resolver=None, prefix: str = "") -> list[tuple[str, URLPattern]]:
    resolver = resolver or get_resolver()
    found = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found.extend(discovered_patterns(entry, route))
        else:
            found.append((route, entry))
    return found


def view_methods(pattern: URLPattern) -> list[str]:
    view_class = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
    if view_class is None:
        return ["get", "post"]
    return [m for m in METHODS if hasattr(view_class, m)]


def fill_route(route: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        for converter in ("uuid", "int", "str", "slug", "path"):
            route = route.replace(f"<{converter}:{name}>", str(value))
    return "/" + route


@pytest.fixture
def foreign_objects(hospital_b, make_user):
    """Real objects of hospital B, keyed by the URL parameter that names them."""
    admin_b = make_user(hospital=hospital_b, role=Role.ADMIN)
    member_b = services.grant_membership(actor=None, hospital=hospital_b, user=make_user(), role="clinician")
    token_b, _ = services.create_api_token(actor=admin_b, name="b", hospital=hospital_b)
    node_b = gateway_services.create_dicom_node(actor=admin_b, hospital=hospital_b, ae_title="HOSPITAL_B_CT")
    study_b = Study.objects.create(hospital=hospital_b, study_instance_uid="1.2.826.0.1.3680043.2.1125.1")
    return {"hospital_uuid": hospital_b.uuid, "membership_uuid": member_b.uuid, "token_uuid": token_b.uuid,
            "node_uuid": node_b.uuid, "study_instance_uid": study_b.study_instance_uid, "study_uuid": study_b.uuid,
            "index": 0, "kind": "gradcam"}


def object_routes() -> list[tuple[str, URLPattern]]:
    return [(route, p) for route, p in discovered_patterns() if "<" in route and not route.startswith("api/schema")]


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.RADIOLOGIST, Role.CLINICIAN, Role.ADMIN])
def test_every_object_url__foreign_hospital_is_404(role, hospital_a, foreign_objects, make_user, api_client_for):
    user = make_user(hospital=hospital_a, role=role)
    client = api_client_for(user)
    client.force_login(user)  # server-rendered pages authenticate by session, APIs by force_authenticate
    checked = 0
    for route, pattern in object_routes():
        names = list(pattern.pattern.converters)
        missing = [n for n in names if n not in foreign_objects]
        assert not missing, f"{route}: add a foreign-object provider for {missing}"
        url = fill_route(route, {n: foreign_objects[n] for n in names})
        for method in view_methods(pattern):
            response = getattr(client, method)(url, data={}, format="json")
            # DICOMweb takes the hospital only from a hospital-bound token, never from the URL: a
            # request without one is refused (400) before anything is looked up or stored.
            expected = 400 if route.startswith("dicomweb/") else 404
            assert response.status_code == expected, f"{method.upper()} {url} -> {response.status_code}"
            checked += 1
    assert checked >= 5


@pytest.mark.django_db
def test_every_url__anonymous_gets_401_or_login_redirect(hospital_a, foreign_objects, api_client_for):
    client = api_client_for()
    checked = 0
    for route, pattern in discovered_patterns():
        names = list(pattern.pattern.converters)
        url = fill_route(route, {n: foreign_objects.get(n, "00000000-0000-0000-0000-000000000000") for n in names})
        if url in PUBLIC_PATHS or "<" in url:
            continue
        for method in view_methods(pattern):
            response = getattr(client, method)(url)
            if url.startswith("/api/") or url.startswith("/dicomweb/"):
                assert response.status_code == 401, f"{method.upper()} {url} -> {response.status_code}"
            else:
                assert response.status_code in (302, 403, 405), f"{method.upper()} {url} -> {response.status_code}"
                if response.status_code == 302:
                    assert response["Location"].startswith("/login/")
            checked += 1
    assert checked >= 8


@pytest.mark.django_db
def test_hospital_list__shows_only_own_hospital(hospital_a, hospital_b, make_user, api_client_for):
    body = api_client_for(make_user(hospital=hospital_a, role=Role.CLINICIAN)).get("/api/hospitals/").json()
    assert [h["uuid"] for h in body] == [str(hospital_a.uuid)]
