from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "triage.gateway"
    label = "gateway"
    verbose_name = "DICOM network gateway"
