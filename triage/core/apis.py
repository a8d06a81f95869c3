from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from triage.core.health import system_health


class ComponentSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField()


class HealthApi(APIView):
    """Report database, broker and worker status; no patient data, so no login needed."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class OutputSerializer(serializers.Serializer):
        ok = serializers.BooleanField()
        database = ComponentSerializer()
        broker = ComponentSerializer()
        worker = ComponentSerializer()

    @extend_schema(responses={200: OutputSerializer, 503: OutputSerializer})
    def get(self, request):
        components = system_health()
        body = {name: c.as_dict() for name, c in components.items()}
        body["ok"] = all(c.ok for c in components.values())
        return Response(body, status=200 if body["ok"] else 503)
