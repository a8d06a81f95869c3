"""Where a hospital's AI results go (destinations) and what was sent there (the export log).

A destination is a DICOM peer reached by C-STORE (AE title, host, port) or a STOW-RS URL with
optional HTTP Basic credentials; the password is stored encrypted (see
:mod:`triage.exports.secrets`) and never returned by any API or page. When to send is one
setting per hospital (:class:`ExportSettings`): when the AI result is ready, or when a
radiologist signs the report; a hospital without the row sends on sign-off.

One :class:`ExportJob` per (destination, study, revision) is the log: a revision (the report
version, 0 before sign-off) is sent at most once by the system, retried with backoff up to
``MAX_ATTEMPTS`` times; an admin's re-send reopens the same job.
"""
import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from triage.gateway.models import validate_ae_title


class SendOn(models.TextChoices):
    AI_READY = "ai_ready", "When the AI result is ready"
    SIGNED = "signed", "When a radiologist signs the report"


class ExportSettings(models.Model):
    hospital = models.OneToOneField("accounts.Hospital", on_delete=models.CASCADE, related_name="export_settings")
    send_on = models.CharField(max_length=8, choices=SendOn.choices, default=SendOn.SIGNED)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "export settings"
        constraints = [
            models.CheckConstraint(condition=Q(send_on__in=["ai_ready", "signed"]), name="export_send_on_is_known"),
        ]

    def __str__(self) -> str:
        return f"Exports of {self.hospital_id}: {self.send_on}"


class Destination(models.Model):
    class Kind(models.TextChoices):
        CSTORE = "cstore", "DICOM C-STORE"
        STOW = "stow", "DICOMweb STOW-RS"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    hospital = models.ForeignKey("accounts.Hospital", on_delete=models.PROTECT, related_name="export_destinations")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    ae_title = models.CharField(max_length=16, blank=True, validators=[validate_ae_title])  # called AE (C-STORE)
    host = models.CharField(max_length=253, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    url = models.URLField(max_length=500, blank=True, help_text="STOW-RS base URL (…/dicom-web).")
    username = models.CharField(max_length=150, blank=True)
    password_encrypted = models.TextField(blank=True, help_text="Fernet token; never shown.")
    send_results_since = models.DateTimeField(
        default=timezone.now, help_text="Results (or sign-offs) before this are not sent: no unplanned back-fill.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["cstore", "stow"]), name="destination_kind_is_known"),
            models.CheckConstraint(
                condition=(Q(kind="cstore") & ~Q(ae_title="") & ~Q(host="") & Q(port__gte=1, port__lte=65535))
                | (Q(kind="stow") & ~Q(url="")),
                name="destination_has_its_address"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class ExportJob(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="jobs")
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="export_jobs")
    revision = models.PositiveIntegerField(help_text="Report version sent (0: the unreviewed AI result).")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    sop_instance_uids = models.JSONField(default=list, help_text="The objects sent (SEG, SR, key images).")
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A worker's claim expires then.")
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="Backoff: not sent again before.")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["destination", "study", "revision"], name="one_export_per_revision"),
            models.CheckConstraint(condition=Q(status__in=["pending", "sending", "sent", "failed"]),
                                   name="export_status_is_known"),
            models.CheckConstraint(condition=~Q(status="failed") | ~Q(last_error=""), name="failed_export_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Export {self.uuid} ({self.status})"
