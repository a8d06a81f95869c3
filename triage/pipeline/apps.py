from django.apps import AppConfig


class PipelineConfig(AppConfig):
    """Orchestration above the step apps: what happens to a study next (B16)."""

    name = "triage.pipeline"
    label = "pipeline"
