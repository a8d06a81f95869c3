from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "triage.decisions"
    label = "decisions"
