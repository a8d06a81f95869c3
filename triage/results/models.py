"""AI output per study and model version: probabilities, slice scores, quantification, overlays.

Every row hangs off a ``Result``, keyed by (study, model version), so re-running a task never
duplicates anything and results of older model versions stay for comparison.
"""
import uuid

from django.db import models
from django.db.models import F, Q


class ModelVersion(models.Model):
    """A model from ``inference/weights`` as the platform knows it (mirrors its model card)."""

    name = models.CharField(max_length=64)
    version = models.CharField(max_length=32)
    weights_sha256 = models.CharField(max_length=64)
    class_names = models.JSONField()
    input_size_px = models.PositiveIntegerField()
    card = models.JSONField(default=dict)
    is_active = models.BooleanField(default=False)
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="one_row_per_model_version"),
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_model"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def reference(self) -> str:
        """Return ``<name>/<version>``, the model's directory under ``inference/weights``."""
        return f"{self.name}/{self.version}"


class Result(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="results")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="results")
    is_current = models.BooleanField(default=True, help_text="The result the worklist and report show.")
    class_probabilities = models.JSONField(help_text="Calibrated study-level probability per class name.")
    covid_probability = models.FloatField(help_text="Calibrated study-level COVID-19 probability, 0–1.")
    covid_probability_uncalibrated = models.FloatField()
    predicted_label = models.CharField(max_length=32)
    slices_scored = models.PositiveIntegerField()
    key_slice_indices = models.JSONField(default=list)
    stage_seconds = models.JSONField(default=dict, help_text="Wall time per pipeline stage.")
    applicable = models.BooleanField(default=True, help_text="False = 'AI not applicable': the study lies outside the "
                                     "model's validated domain, so its probabilities mean nothing and are not shown.")
    not_applicable_reasons = models.JSONField(default=list, blank=True,
                                              help_text="One sentence per failed domain rule (inference.domain).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "model_version"], name="one_result_per_model_version"),
            models.UniqueConstraint(fields=["study"], condition=Q(is_current=True), name="one_current_result_per_study"),
            models.CheckConstraint(condition=Q(covid_probability__gte=0, covid_probability__lte=1),
                                   name="result_probability_0_1"),
        ]

    def __str__(self) -> str:
        return f"Result {self.uuid} ({self.predicted_label} {self.covid_probability:.2f})"


class SliceScore(models.Model):
    """The calibrated COVID-19 probability of one classified (lung-containing) slice."""

    result = models.ForeignKey(Result, on_delete=models.CASCADE, related_name="slice_scores")
    slice_index = models.PositiveIntegerField(help_text="Index in the selected series, sorted by z.")
    z_position_mm = models.FloatField(null=True)
    covid_probability = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["result", "slice_index"], name="one_score_per_slice"),
            models.CheckConstraint(condition=Q(covid_probability__gte=0, covid_probability__lte=1),
                                   name="slice_probability_0_1"),
        ]
        ordering = ["slice_index"]


class Quantification(models.Model):
    """Lung and lesion measurements; fractions are 0–1 (the report shows percent)."""

    result = models.OneToOneField(Result, on_delete=models.CASCADE, related_name="quantification")
    lung_left_ml = models.FloatField()
    lung_right_ml = models.FloatField()
    lesion_ggo_ml = models.FloatField()
    lesion_consolidation_ml = models.FloatField()
    lesion_total_ml = models.FloatField()
    lesion_fraction_left = models.FloatField()
    lesion_fraction_right = models.FloatField()
    lesion_fraction_both = models.FloatField()
    lesion_hu_mean = models.FloatField(null=True)
    lesion_hu_sd = models.FloatField(null=True)
    lesion_hu_percentiles = models.JSONField(default=dict)
    lesion_hu_histogram = models.JSONField(default=dict, help_text="{'bin_edges_hu': [...], 'counts': [...]}")
    zones = models.JSONField(default=dict, help_text="Per zone: lesion fraction and severity score.")
    severity_total = models.PositiveSmallIntegerField()
    severity_max = models.PositiveSmallIntegerField(
        default=30, help_text="Highest possible severity total of the scoring used (zones x 5); pages show '/max'.")
    dependent_density_ml = models.FloatField(
        default=0.0, help_text="Dependent subpleural density of an otherwise normal lung: measured, not lesion.")
    lesion_pattern = models.JSONField(
        default=dict, help_text="Bilateral, peripheral / lower-zone / GGO shares of the lesion volume (0–1).")
    report = models.JSONField(default=dict, help_text="The full quantification report as computed.")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(lesion_fraction_both__gte=0, lesion_fraction_both__lte=1),
                                   name="lesion_fraction_0_1"),
            models.CheckConstraint(condition=Q(severity_total__lte=F("severity_max")), name="severity_within_max"),
        ]


class Overlay(models.Model):
    class Kind(models.TextChoices):
        GRADCAM = "gradcam", "Grad-CAM heatmap"
        LESION = "lesion", "Lesion outline"

    result = models.ForeignKey(Result, on_delete=models.CASCADE, related_name="overlays")
    slice_index = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The images live in the object store under content-addressed keys (triage/results/overlay_store.py);
    # the row names them, so the store's collector keeps exactly the objects some row references.
    png_key = models.CharField(max_length=200, help_text="Rendered overlay over the lung-window slice, "
                                                         "with a colour bar (PNG): its object-store key.")
    png_sha256 = models.CharField(max_length=64)
    png_size_bytes = models.PositiveIntegerField()
    heatmap_key = models.CharField(max_length=200, blank=True, help_text="Raw heatmap, 8-bit PNG, for re-blending: "
                                                                         "its object-store key ('' when none).")
    heatmap_sha256 = models.CharField(max_length=64, blank=True)
    heatmap_size_bytes = models.PositiveIntegerField(null=True)
    width_px = models.PositiveIntegerField()
    height_px = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["result", "slice_index", "kind"], name="one_overlay_per_slice_and_kind"),
            models.CheckConstraint(condition=Q(kind__in=["gradcam", "lesion"]), name="overlay_kind_is_known"),
        ]
        ordering = ["slice_index", "kind"]


class Candidate(models.Model):
    """A model version run in shadow on new studies of one hospital (or all when ``hospital`` is empty).

    Its results are stored (``Result.is_current`` false) and never shown on the worklist, report or
    exports; monitoring compares them with the shown results on PCR outcomes before promotion.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="candidacies")
    hospital = models.ForeignKey("accounts.Hospital", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", help_text="Empty: every hospital.")
    started_by = models.ForeignKey("accounts.User", null=True, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    swept_until = models.DateTimeField(
        null=True, blank=True, help_text="Studies ready up to then were checked for a missed shadow analysis.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model_version", "hospital"], condition=Q(ended_at__isnull=True),
                                    name="one_open_candidacy_per_model_and_hospital"),
        ]

    def __str__(self) -> str:
        return f"Candidate {self.model_version} ({self.hospital or 'all hospitals'})"
