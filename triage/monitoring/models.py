"""Per-hospital monitoring settings: the operating threshold the dashboards evaluate the model at."""
from django.conf import settings
from django.db import models
from django.db.models import Q

DEFAULT_OPERATING_THRESHOLD = 0.5


class MonitoringSettings(models.Model):
    """A hospital's operating threshold; a hospital without a row uses ``DEFAULT_OPERATING_THRESHOLD``."""

    hospital = models.OneToOneField("accounts.Hospital", on_delete=models.CASCADE, related_name="monitoring_settings")
    operating_threshold = models.FloatField(
        default=DEFAULT_OPERATING_THRESHOLD,
        help_text="Calibrated COVID-19 probability (0–1) at or above which the model counts as positive.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name_plural = "monitoring settings"
        constraints = [
            models.CheckConstraint(condition=Q(operating_threshold__gte=0, operating_threshold__lte=1),
                                   name="operating_threshold_0_1"),
        ]

    def __str__(self) -> str:
        return f"Monitoring settings of {self.hospital_id}"
