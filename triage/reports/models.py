"""Radiologist reports: signed, immutable versions of the review of one study's AI result.

Version 1 is the initial report; every later version is an addendum that supersedes the
previous one. The newest version is the report. Signing is decided by the database: two
radiologists signing the same study at once both try to insert the same (study, version)
and the unique constraint lets exactly one of them win.
"""
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from triage.core.immutable import ImmutableModel, immutable_queryset


IMMUTABLE_MSG = "A signed report cannot be changed; add an addendum instead."


class Report(ImmutableModel):
    class Kind(models.TextChoices):
        INITIAL = "initial", "Initial report"
        ADDENDUM = "addendum", "Addendum"

    class Verdict(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed the AI label"
        OVERRIDDEN = "overridden", "Overrode the AI label"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="reports")
    version = models.PositiveIntegerField(help_text="1 for the initial report, +1 per addendum.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    ai_result = models.ForeignKey("results.Result", on_delete=models.PROTECT, related_name="reports",
                                  help_text="The AI result the radiologist reviewed.")
    ai_label = models.CharField(max_length=32, help_text="The AI's label as shown when signing.")
    ai_covid_probability = models.FloatField(help_text="The calibrated probability as shown when signing, 0–1.")
    radiologist_label = models.CharField(max_length=32)
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    comment = models.TextField(blank=True)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    supersedes = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    objects = immutable_queryset(IMMUTABLE_MSG).as_manager()
    immutable_message = IMMUTABLE_MSG

    class Meta:
        ordering = ["study", "version"]
        constraints = [
            models.UniqueConstraint(fields=["study", "version"], name="one_report_per_study_version"),
            models.UniqueConstraint(fields=["supersedes"], name="report_superseded_at_most_once"),
            models.CheckConstraint(condition=Q(version__gte=1), name="report_version_positive"),
            models.CheckConstraint(
                condition=(Q(kind="initial", version=1, supersedes__isnull=True)
                           | Q(kind="addendum", version__gt=1, supersedes__isnull=False)),
                name="initial_is_version_1_addendum_supersedes",
            ),
            models.CheckConstraint(
                condition=(Q(verdict="confirmed", radiologist_label=F("ai_label"))
                           | (Q(verdict="overridden") & ~Q(radiologist_label=F("ai_label")))),
                name="report_verdict_matches_labels",
            ),
            models.CheckConstraint(condition=Q(kind="initial") | ~Q(comment=""), name="addendum_has_comment"),
            models.CheckConstraint(condition=Q(ai_covid_probability__gte=0, ai_covid_probability__lte=1),
                                   name="report_probability_0_1"),
        ]

    @property
    def is_override(self) -> bool:
        return self.verdict == self.Verdict.OVERRIDDEN

    def __str__(self) -> str:
        return f"Report v{self.version} of study {self.study_id}"
