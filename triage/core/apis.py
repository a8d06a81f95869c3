from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from triage.core.health import ComponentHealth, readiness_health, system_health


class ComponentSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField()


def health_response(components: dict[str, ComponentHealth]) -> Response:
    """Return the components' states, with 503 when any is down."""
    body = {name: c.as_dict() for name, c in components.items()}
    body["ok"] = all(c.ok for c in components.values())
    return Response(body, status=200 if body["ok"] else 503)


class PublicApi(APIView):
    """An API without patient data, open to anyone (health probes)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []


class HealthApi(PublicApi):
    """Report database, broker, study storage and worker status; no patient data, so no login needed."""

    class OutputSerializer(serializers.Serializer):
        ok = serializers.BooleanField()
        database = ComponentSerializer()
        broker = ComponentSerializer()
        storage = ComponentSerializer()
        worker = ComponentSerializer()

    @extend_schema(responses={200: OutputSerializer, 503: OutputSerializer})
    def get(self, request):
        return health_response(system_health())


class HealthReadyApi(PublicApi):
    """Report whether this web process can answer (its database is reachable); the readiness probe."""

    class OutputSerializer(serializers.Serializer):
        ok = serializers.BooleanField()
        database = ComponentSerializer()

    @extend_schema(responses={200: OutputSerializer, 503: OutputSerializer})
    def get(self, request):
        return health_response(readiness_health())


class HealthLiveApi(PublicApi):
    """Answer 200 while the process serves requests, touching nothing else; the liveness probe."""

    class OutputSerializer(serializers.Serializer):
        ok = serializers.BooleanField()

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request):
        return Response({"ok": True})
