"""One denormalised, indexed row per study: what the radiologist worklist sorts and filters.

``WorklistEntry`` copies the few columns the worklist needs from Study, the current Result, its
Quantification and the review state, so listing 100k studies never joins or sorts those tables.
It is written only by :func:`triage.worklist.services.refresh_worklist_entry`, which every
service that changes one of those sources calls. ``WorklistVersion`` is a per-hospital counter
bumped by every refresh: the live page polls it (ETag) instead of re-reading the list.
"""
from django.db import models
from django.db.models import Q


class WorklistEntry(models.Model):
    study = models.OneToOneField("studies.Study", on_delete=models.CASCADE, related_name="worklist_entry")
    hospital = models.ForeignKey("accounts.Hospital", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16)  # Study.Status value
    received_at = models.DateTimeField()
    accession_number = models.CharField(max_length=64, blank=True)  # (0008,0050)
    patient_id = models.CharField(max_length=64, blank=True)  # (0010,0020)
    covid_probability = models.FloatField(null=True, help_text="Current result's calibrated probability, 0–1.")
    sort_probability = models.FloatField(default=-1.0, help_text="covid_probability, or -1 when not analysed: "
                                         "one non-null, indexable sort key that puts un-analysed studies last.")
    predicted_label = models.CharField(max_length=32, blank=True)
    not_applicable_reason = models.CharField(max_length=500, blank=True, help_text="Why the AI is not applicable "
                                             "(then covid_probability is NULL and the study sorts by waiting time).")
    lesion_fraction_both = models.FloatField(null=True, help_text="Lesion fraction of both lungs, 0–1.")
    severity_total = models.PositiveSmallIntegerField(null=True)
    reviewed = models.BooleanField(default=False, help_text="A radiologist signed the report.")
    reviewed_at = models.DateTimeField(null=True)
    radiologist_label = models.CharField(max_length=32, blank=True, help_text="The latest signed report's label.")
    missing_slices = models.PositiveIntegerField(default=0, help_text="Slices missing from the shown series "
                                                 "(triage.studies.geometry.stack_gaps); 0 = looks whole.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "worklist entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(covid_probability__isnull=True) | Q(covid_probability__gte=0, covid_probability__lte=1),
                name="worklist_probability_0_1"),
            models.CheckConstraint(condition=Q(sort_probability=-1) | Q(sort_probability__gte=0, sort_probability__lte=1),
                                   name="worklist_sort_probability_known"),
        ]
        indexes = [
            # Overdue tier: unreviewed rows, oldest first (per hospital and across hospitals).
            models.Index(fields=["reviewed", "received_at", "id"], name="worklist_wait_order"),
            models.Index(fields=["hospital", "reviewed", "received_at"], name="worklist_hosp_wait"),
            # Probability tier: highest first, un-analysed (NULL) last, then oldest first.
            models.Index(fields=["-sort_probability", "received_at", "id"], name="worklist_prob_order"),
            models.Index(fields=["hospital", "-sort_probability", "received_at", "id"], name="worklist_hosp_prob_order"),
            models.Index(fields=["accession_number"], name="worklist_accession"),
            models.Index(fields=["patient_id"], name="worklist_patient_id"),
        ]

    def __str__(self) -> str:
        return f"Worklist entry of study {self.study_id}"


class WorklistVersion(models.Model):
    """A per-hospital change counter: any refresh of an entry of the hospital bumps it."""

    hospital = models.OneToOneField("accounts.Hospital", on_delete=models.CASCADE, primary_key=True,
                                    related_name="+")
    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"Worklist version {self.version} of hospital {self.hospital_id}"
