"""Discover every URL and API operation: from the URLconf and from the OpenAPI schema at /api/schema/."""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

# The invite's set-password pages are reached before any login, by the mailed token alone.
PUBLIC_PATHS = {"/login/", "/api/health/", "/api/health/ready/", "/api/health/live/",
                "/set-password/done/", "/set-password/{uidb64}/{token}/"}
METHODS = ("get", "post", "put", "patch", "delete")
CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Operation:
    template: str  # "/api/studies/{study_uuid}/" style, shared by URLconf and OpenAPI
    method: str

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.template)

    @property
    def is_page(self) -> bool:
        return not self.template.startswith(("/api/", "/dicomweb/"))

    def url(self, values: dict[str, object]) -> str:
        missing = [p for p in self.params if p not in values]
        assert not missing, (f"{self.method.upper()} {self.template}: no provider for path parameter(s) {missing}; "
                             "add a real object id to Tenant.params in tests/security/conftest.py")
        return PARAM.sub(lambda m: str(values[m.group(1)]), self.template)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.template}"


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


def urlconf_operations() -> set[Operation]:
    return {Operation("/" + CONVERTER.sub(r"{\1}", route), method)
            for route, pattern in discovered_patterns() for method in view_methods(pattern)}


def schema_operations(client) -> set[Operation]:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:500]
    return {Operation(path, method) for path, item in response.json()["paths"].items()
            for method in item if method in METHODS}


def all_operations(schema_client) -> list[Operation]:
    """Every operation of the URLconf and of the schema (fetched with ``schema_client``), sorted."""
    from_schema = schema_operations(schema_client)
    assert from_schema, "the OpenAPI schema lists no operation"
    return sorted(urlconf_operations() | from_schema, key=str)
