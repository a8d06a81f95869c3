"""Clinician decisions, per-hospital suggestion rules and RT-PCR outcomes of a study.

Decisions are a history: each row is immutable and the newest is the current decision.
PCR outcomes keep one current row per study; a different result replaces it only as an
explicit correction that names its reason and the row it supersedes.
"""
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from inference.quantify.scoring import MAX_TOTAL_SCORE
from triage.core.immutable import ImmutableModel, immutable_queryset

MAX_SEVERITY_TOTAL = MAX_TOTAL_SCORE  # one maximum for rules, forms and every page


class DecisionKind(models.TextChoices):
    CARE_MEDICATION = "care_medication", "Medication / admission"
    CARE_CRITICAL = "care_critical", "Critical care"
    NUCLEIC_ACID_TEST = "nucleic_acid_test", "Nucleic-acid test (RT-PCR)"
    QUARANTINE = "quarantine", "Quarantine"
    DISCHARGE = "discharge", "Discharge"


DECISION_IMMUTABLE_MSG = "Decisions are a history; record a new decision instead."


class Decision(ImmutableModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="decisions")
    kind = models.CharField(max_length=32, choices=DecisionKind.choices)
    reason = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    suggested_kind = models.CharField(max_length=32, choices=DecisionKind.choices, blank=True,
                                      help_text="The rule's suggestion when deciding; blank without an AI result.")
    suggestion_reason = models.CharField(max_length=300, blank=True)
    followed_suggestion = models.BooleanField()

    objects = immutable_queryset(DECISION_IMMUTABLE_MSG).as_manager()
    immutable_message = DECISION_IMMUTABLE_MSG

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=DecisionKind.values), name="decision_kind_is_known"),
            models.CheckConstraint(condition=Q(suggested_kind__in=[*DecisionKind.values, ""]),
                                   name="decision_suggested_kind_is_known"),
            models.CheckConstraint(
                condition=Q(followed_suggestion=True, kind=F("suggested_kind"))
                | (Q(followed_suggestion=False) & ~Q(kind=F("suggested_kind"))),
                name="followed_suggestion_means_same_kind",
            ),
        ]
        indexes = [models.Index(fields=["study", "-created_at"], name="decision_study_recent")]

    def __str__(self) -> str:
        return f"Decision {self.kind} for study {self.study_id}"


class DecisionRule(models.Model):
    """A hospital's thresholds for the suggested decision (see ``triage.decisions.rules``).

    A hospital without a row uses the defaults below.
    """

    DEFAULTS = {"care_probability_threshold": 0.80, "test_probability_threshold": 0.30,
                "care_severity_threshold": 8, "critical_severity_threshold": 18}

    hospital = models.OneToOneField("accounts.Hospital", on_delete=models.CASCADE, related_name="decision_rule")
    care_probability_threshold = models.FloatField(
        default=DEFAULTS["care_probability_threshold"],
        help_text="COVID-19 probability (0–1) at or above which medication/admission is suggested.")
    test_probability_threshold = models.FloatField(
        default=DEFAULTS["test_probability_threshold"],
        help_text="Probability at or above which a nucleic-acid test with quarantine is suggested.")
    care_severity_threshold = models.PositiveSmallIntegerField(
        default=DEFAULTS["care_severity_threshold"],
        help_text=f"Severity total (0–{MAX_SEVERITY_TOTAL}) at or above which medication/admission is suggested.")
    critical_severity_threshold = models.PositiveSmallIntegerField(
        default=DEFAULTS["critical_severity_threshold"],
        help_text=f"Severity total (0–{MAX_SEVERITY_TOTAL}) at or above which critical care is suggested.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(test_probability_threshold__gte=0, test_probability_threshold__lte=F("care_probability_threshold"),
                            care_probability_threshold__lte=1),
                name="rule_probabilities_ordered_0_1",
            ),
            models.CheckConstraint(
                condition=Q(care_severity_threshold__lte=F("critical_severity_threshold"),
                            critical_severity_threshold__lte=MAX_SEVERITY_TOTAL),
                name="rule_severities_ordered_within_max",
            ),
        ]

    def __str__(self) -> str:
        return f"Decision rule of {self.hospital_id}"


class PcrOutcome(models.Model):
    class Result(models.TextChoices):
        POSITIVE = "positive", "Positive"
        NEGATIVE = "negative", "Negative"
        INCONCLUSIVE = "inconclusive", "Inconclusive"

    class Source(models.TextChoices):
        FORM = "form", "Web form"
        API = "api", "REST API"
        CSV = "csv", "CSV import"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="pcr_outcomes")
    result = models.CharField(max_length=16, choices=Result.choices)
    sample_taken_on = models.DateField()
    resulted_on = models.DateField(null=True, blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField()
    source = models.CharField(max_length=8, choices=Source.choices)
    note = models.CharField(max_length=500, blank=True)
    is_current = models.BooleanField(default=True)
    supersedes = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="superseded_by")
    correction_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-entered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["study"], condition=Q(is_current=True), name="one_current_pcr_per_study"),
            models.CheckConstraint(condition=Q(result__in=["positive", "negative", "inconclusive"]),
                                   name="pcr_result_is_known"),
            models.CheckConstraint(condition=Q(source__in=["form", "api", "csv"]), name="pcr_source_is_known"),
            models.CheckConstraint(condition=Q(resulted_on__isnull=True) | Q(resulted_on__gte=F("sample_taken_on")),
                                   name="pcr_resulted_not_before_sampled"),
            models.CheckConstraint(
                condition=Q(supersedes__isnull=True, correction_reason="")
                | (Q(supersedes__isnull=False) & ~Q(correction_reason="")),
                name="pcr_correction_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"PCR {self.result} for study {self.study_id}"
