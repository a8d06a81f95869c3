from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "triage.audit"
    label = "audit"
