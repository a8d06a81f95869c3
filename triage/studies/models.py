"""Studies, series and instances received from hospitals, with the study state machine.

Fields copied from DICOM use the snake_case keyword and note their tag; derived values carry
their unit. A StudyInstanceUID is unique per hospital only: the same UID at another hospital
is a separate study, so nothing about one hospital's data leaks through another's upload.
"""
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Study(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        QUEUED = "queued", "Queued for analysis"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class AnalysisStage(models.TextChoices):
        """Where a ``processing`` study's analysis stands (triage/studies/services/stages.py)."""

        PREPARE = "prepare", "Preparing (CPU)"
        PREPARED = "prepared", "Waiting for the GPU"
        CLASSIFY = "classify", "Classifying (GPU)"
        CLASSIFIED = "classified", "Waiting to finish"
        FINISH = "finish", "Finishing (CPU)"

    class Source(models.TextChoices):
        WEB = "web", "Web upload"
        API = "api", "REST API"
        STOW = "stow", "DICOMweb STOW-RS"
        CSTORE = "cstore", "DICOM C-STORE"
        DEMO = "demo", "Demo data"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    hospital = models.ForeignKey("accounts.Hospital", on_delete=models.PROTECT, related_name="studies")
    study_instance_uid = models.CharField(max_length=64)  # (0020,000D)
    accession_number = models.CharField(max_length=64, blank=True)  # (0008,0050)
    patient_id = models.CharField(max_length=64, blank=True)  # (0010,0020)
    patient_name = models.CharField(max_length=324, blank=True)  # (0010,0010)
    patient_sex = models.CharField(max_length=16, blank=True)  # (0010,0040)
    patient_age = models.CharField(max_length=16, blank=True)  # (0010,1010), e.g. "045Y"
    patient_birth_date = models.DateField(null=True, blank=True)  # (0010,0030)
    study_date = models.DateField(null=True, blank=True)  # (0008,0020)
    study_description = models.CharField(max_length=64, blank=True)  # (0008,1030)
    received_at = models.DateTimeField(auto_now_add=True)
    last_instance_received_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    status_changed_at = models.DateTimeField(default=timezone.now)
    failure_reason = models.CharField(max_length=500, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A worker's claim expires then.")
    analysis_stage = models.CharField(max_length=10, choices=AnalysisStage.choices, blank=True)
    analysis_blob = models.CharField(max_length=255, blank=True,
                                     help_text="Store key of the last analysis stage's output, for the next stage.")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    selected_series = models.ForeignKey("studies.Series", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")

    class Meta:
        verbose_name_plural = "studies"
        constraints = [
            models.UniqueConstraint(fields=["hospital", "study_instance_uid"], name="one_study_per_uid_per_hospital"),
            models.CheckConstraint(condition=Q(status__in=["received", "queued", "processing", "ready", "failed"]),
                                   name="study_status_is_known"),
            models.CheckConstraint(condition=Q(source__in=["web", "api", "stow", "cstore", "demo"]),
                                   name="study_source_is_known"),
            models.CheckConstraint(condition=Q(analysis_stage__in=["", "prepare", "prepared", "classify", "classified",
                                                                   "finish"]),
                                   name="study_analysis_stage_is_known"),
            models.CheckConstraint(condition=~Q(status="failed") | ~Q(failure_reason=""),
                                   name="failed_study_has_reason"),
        ]
        indexes = [
            models.Index(fields=["hospital", "status", "received_at"], name="study_hospital_status_recv"),
            models.Index(fields=["accession_number"], name="study_accession_number"),
            models.Index(fields=["patient_id"], name="study_patient_id"),
            models.Index(fields=["status", "status_changed_at"], name="study_status_changed"),
        ]

    def __str__(self) -> str:
        return f"Study {self.uuid} ({self.status})"


class Series(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField(max_length=64)  # (0020,000E)
    modality = models.CharField(max_length=16)  # (0008,0060)
    series_number = models.IntegerField(null=True, blank=True)  # (0020,0011)
    series_description = models.CharField(max_length=64, blank=True)  # (0008,103E)
    slice_count = models.PositiveIntegerField(default=0)  # derived: stored instances
    rows = models.PositiveIntegerField()  # (0028,0010)
    columns = models.PositiveIntegerField()  # (0028,0011)
    pixel_spacing_row_mm = models.FloatField(null=True, blank=True)  # (0028,0030)[0], between rows
    pixel_spacing_col_mm = models.FloatField(null=True, blank=True)  # (0028,0030)[1], between columns
    slice_thickness_mm = models.FloatField(null=True, blank=True)  # (0018,0050)
    spacing_between_slices_mm = models.FloatField(null=True, blank=True)  # derived from positions at ingest
    kvp = models.FloatField(null=True, blank=True)  # (0018,0060)
    convolution_kernel = models.CharField(max_length=64, blank=True)  # (0018,1210)
    image_orientation_patient = models.JSONField(null=True, blank=True)  # (0020,0037), 6 direction cosines
    transfer_syntax_uid = models.CharField(max_length=64, blank=True)  # (0002,0010)
    is_selected = models.BooleanField(default=False, help_text="The series the AI analyses.")

    class Meta:
        verbose_name_plural = "series"
        constraints = [
            models.UniqueConstraint(fields=["study", "series_instance_uid"], name="one_series_per_uid_per_study"),
            models.UniqueConstraint(fields=["study"], condition=Q(is_selected=True),
                                    name="at_most_one_selected_series_per_study"),
            models.CheckConstraint(condition=Q(rows__gt=0, columns__gt=0), name="series_image_size_positive"),
        ]

    def __str__(self) -> str:
        return f"Series {self.series_number} of {self.study_id}"


class Instance(models.Model):
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_instance_uid = models.CharField(max_length=64)  # (0008,0018)
    storage_path = models.CharField(max_length=255)  # "<hospital uuid>/<sha256[:2]>/<sha256>.dcm"
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    instance_number = models.IntegerField(null=True, blank=True)  # (0020,0013)
    z_position_mm = models.FloatField(null=True, blank=True)  # derived: position along the slice normal
    decode_error = models.CharField(max_length=300, blank=True, help_text="Why the pixel data is unusable.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "sop_instance_uid"], name="one_instance_per_uid_per_series"),
        ]
        indexes = [models.Index(fields=["sha256"], name="instance_sha256")]

    def __str__(self) -> str:
        return f"Instance {self.instance_number} of series {self.series_id}"
