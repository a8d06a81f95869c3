"""The analysis step: run the AI on a HU volume and store everything it produced; manage model versions.

A step service: it knows nothing of how studies arrive or what runs next
(:mod:`triage.pipeline.services` claims the study, calls these and marks it ready).
"""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from triage.accounts.models import Hospital, User
from triage.core.exceptions import DomainError
from triage.core.object_store import COLLECT_GRACE, collect_garbage, lock_store_for_writing
from triage.accounts.permissions import require_platform_admin
from triage.audit.services import record_event
from triage.core.signals import study_changed
from triage.results.audit_actions import ResultAction
from triage.results.engine import loaded_model
from triage.results.models import Candidate, ModelVersion, Overlay, Quantification, Result, SliceScore
from triage.results import overlay_store
from triage.results.overlay_store import store_overlay_images
from triage.results.selectors import referenced_overlay_keys

if TYPE_CHECKING:  # the typed report crosses from inference; no scipy import in the web process
    from inference.analysis import StageTimer, StudyAnalysis
    from inference.dicom_io import Volume
    from inference.stages import ClassifiedSlices, PreparedSlices
    from inference.quantify import Quantification as MeasuredQuantification

logger = logging.getLogger(__name__)


# --- Model versions ------------------------------------------------------------------------

def _register_from_card(reference: str | None) -> ModelVersion:
    from inference.registry import read_model_card

    card = read_model_card(reference)
    version, _ = ModelVersion.objects.get_or_create(
        name=card["name"], version=card["version"],
        defaults={"weights_sha256": card["weights_sha256"], "class_names": card["class_names"],
                  # A lesion-feature model (card kind "features") reads whole slices, no pixel input size: 0.
                  "input_size_px": card.get("input_size_px", 0), "card": card},
    )
    return version


@transaction.atomic
def ensure_active_model_version() -> ModelVersion:
    """Return the active model version, registering the weights folder's ACTIVE one if none is."""
    active = ModelVersion.objects.filter(is_active=True).first()
    if active is not None:
        return active
    version = _register_from_card(None)
    ModelVersion.objects.filter(id=version.id).update(is_active=True)
    record_event(actor=None, action=ResultAction.MODEL_ACTIVATED, target=version, extra={"model": version.reference})
    version.is_active = True
    return version


@transaction.atomic
def activate_model_version(*, actor: User | None, reference: str) -> ModelVersion:
    """Register ``<name>/<version>`` from its model card and make it the active model (a no-op if it is)."""
    if actor is not None:
        require_platform_admin(user=actor)
    version = _register_from_card(reference)
    previous = ModelVersion.objects.filter(is_active=True).exclude(id=version.id).first()
    if previous is None and version.is_active:
        return version
    ModelVersion.objects.filter(is_active=True).update(is_active=False)
    ModelVersion.objects.filter(id=version.id).update(is_active=True)
    version.is_active = True
    record_event(actor=actor, action=ResultAction.MODEL_ACTIVATED, target=version,
                 extra={"old": previous.reference if previous else None, "new": version.reference})
    return version


ACTIVE_NOT_CANDIDATE_MSG = "{model} is the active model; a candidate is a model that is not active yet."


@transaction.atomic
def mark_candidate(*, actor: User, reference: str, hospital: Hospital | None = None) -> Candidate:
    """Run ``<name>/<version>`` in shadow on new studies of ``hospital`` (all when None); platform admins only."""
    require_platform_admin(user=actor)
    version = _register_from_card(reference)
    if version.is_active:
        raise DomainError(ACTIVE_NOT_CANDIDATE_MSG.format(model=version.reference))
    candidate = Candidate.objects.filter(model_version=version, hospital=hospital, ended_at__isnull=True).first()
    if candidate is not None:
        return candidate
    candidate = Candidate.objects.create(model_version=version, hospital=hospital, started_by=actor)
    record_event(actor=actor, action=ResultAction.CANDIDATE_MARKED, hospital=hospital, target=version,
                 extra={"model": version.reference, "hospital": hospital.code if hospital else "all"})
    return candidate


@transaction.atomic
def end_candidacy(*, actor: User, candidate: Candidate, now=None) -> Candidate:
    """Stop running a candidate in shadow (platform admins); its stored results stay. A no-op if it ended."""
    require_platform_admin(user=actor)
    if candidate.ended_at is not None:
        return candidate
    candidate.ended_at = now or timezone.now()
    candidate.save(update_fields=["ended_at"])
    record_event(actor=actor, action=ResultAction.CANDIDATE_ENDED, hospital=candidate.hospital,
                 target=candidate.model_version, extra={"model": candidate.model_version.reference,
                                                        "hospital": candidate.hospital.code if candidate.hospital else "all"})
    return candidate


def record_shadow_sweep(*, candidate: Candidate, swept_until) -> None:
    """Remember that studies ready up to ``swept_until`` were checked for a missed shadow analysis (system only)."""
    Candidate.objects.filter(id=candidate.id).update(swept_until=swept_until)


@transaction.atomic
def end_candidacies(*, model_version: ModelVersion, now) -> int:
    """Close every open candidacy of ``model_version`` (it was promoted); return how many."""
    return Candidate.objects.filter(model_version=model_version, ended_at__isnull=True).update(ended_at=now)


@transaction.atomic
def make_result_current(*, result: Result) -> Result:
    """Make a stored result (e.g. a promoted candidate's shadow result) the one every page shows."""
    if result.is_current:
        return result
    Result.objects.filter(study_id=result.study_id, is_current=True).update(is_current=False)
    Result.objects.filter(id=result.id).update(is_current=True)
    result.is_current = True
    study_changed.send(sender="results", study=result.study)
    return result


# --- Analysis ---------------------------------------------------------------------------------

def run_analysis(*, volume: Volume, model_version: ModelVersion, timer: StageTimer) -> StudyAnalysis:
    """Classify, quantify and explain ``volume`` with ``model_version`` (loaded once per worker process)."""
    from inference.analysis import analyse_volume

    return analyse_volume(volume, loaded=loaded_model(model_version.reference), timer=timer)


# How a model's analysis runs (``analysis_route``): a slice CNN in three tasks; a 3D model whole in
# the GPU task; a lesion-feature model (a small MLP on quantification features, no pixels)
# whole in the CPU task that would prepare it.
STAGED, WHOLE_ON_GPU, WHOLE_ON_CPU = "stages", "gpu", "cpu"


def analysis_route(*, model_version: ModelVersion) -> str:
    """Return how ``model_version``'s analysis runs: ``STAGED``, ``WHOLE_ON_GPU`` or ``WHOLE_ON_CPU``."""
    from inference.registry import FEATURES_KIND, SLICE_KIND, VOLUME_KIND

    kind = model_version.card.get("kind", SLICE_KIND)
    return {VOLUME_KIND: WHOLE_ON_GPU, FEATURES_KIND: WHOLE_ON_CPU}.get(kind, STAGED)


def prepare_analysis(*, volume: Volume, model_version: ModelVersion, timer: StageTimer) -> PreparedSlices:
    """Cut the model input of ``volume`` (CPU; needs the stored card, never the model)."""
    from inference.stages import prepare_slices

    return prepare_slices(volume, card=model_version.card, timer=timer)


def classify_analysis(*, prepared: PreparedSlices, model_version: ModelVersion, timer: StageTimer) -> ClassifiedSlices:
    """Run the model and Grad-CAM on prepared slices (the GPU stage)."""
    from inference.stages import classify_prepared

    return classify_prepared(prepared, loaded=loaded_model(model_version.reference), timer=timer)


def finish_analysis(*, volume: Volume, classified: ClassifiedSlices, model_version: ModelVersion,
                    timer: StageTimer) -> StudyAnalysis:
    """Quantify, check the domain and render the overlays of a classified study (CPU)."""
    from inference.stages import finish_analysis as finish

    return finish(volume, classified, card=model_version.card, timer=timer)


@transaction.atomic
def store_analysis(*, study: models.Model, model_version: ModelVersion, analysis: StudyAnalysis,
                   shadow: bool = False) -> Result:
    """Write Result, slice scores, quantification and overlays of ``study`` (a ``studies.Study``) as its current result.

    The caller moves the study to ``ready`` in the same transaction. A ``shadow`` result (a
    candidate model's) is stored beside the current one and never becomes current here. The
    overlay images go to the object store first; if the store fails, nothing is committed, and
    the images already put are whole, unreferenced objects that a retry reuses by content
    address (or the collector removes after its grace period).
    """
    if not shadow:
        Result.objects.filter(Q(study=study) & Q(is_current=True)).update(is_current=False)
    result = Result.objects.create(
        study=study, model_version=model_version, is_current=not shadow, class_probabilities=analysis.class_probabilities,
        covid_probability=analysis.covid_probability,
        covid_probability_uncalibrated=analysis.covid_probability_uncalibrated,
        predicted_label=analysis.predicted_label, slices_scored=len(analysis.slice_scores),
        key_slice_indices=list(analysis.key_slice_indices), stage_seconds=analysis.stage_seconds,
        applicable=analysis.applicability is None or analysis.applicability.applicable,
        not_applicable_reasons=list(analysis.applicability.reasons) if analysis.applicability else [],
    )
    SliceScore.objects.bulk_create(
        SliceScore(result=result, slice_index=s.slice_index, z_position_mm=s.z_position_mm,
                   covid_probability=s.covid_probability)
        for s in analysis.slice_scores
    )
    Quantification.objects.create(result=result, **quantification_fields(analysis.quantification))
    lock_store_for_writing()  # held until commit: the collector cannot delete an image these rows reuse
    Overlay.objects.bulk_create(
        Overlay(result=result, slice_index=o.slice_index, kind=o.kind, width_px=o.width_px, height_px=o.height_px,
                **store_overlay_images(hospital_uuid=study.hospital.uuid, png=o.png, heatmap=o.heatmap))
        for o in analysis.overlays
    )
    record_event(actor=None, action=ResultAction.RESULT_CREATED, hospital=study.hospital, target=study,
                 extra={"result": str(result.uuid), "model": model_version.reference, "shadow": shadow,
                        "covid_probability": round(result.covid_probability, 4), "applicable": result.applicable})
    if not shadow:
        study_changed.send(sender="results", study=study)
    return result


def quantification_fields(quantification: "MeasuredQuantification") -> dict:
    """Map the typed quantification of the analysis onto model fields, one by one (fractions stay 0–1)."""
    hu = quantification.lesion_hu
    return {
        "lung_left_ml": quantification.lung_left_ml,
        "lung_right_ml": quantification.lung_right_ml,
        "lesion_ggo_ml": quantification.lesion_ggo_ml,
        "lesion_consolidation_ml": quantification.lesion_consolidation_ml,
        "lesion_total_ml": quantification.lesion_total_ml,
        "lesion_fraction_left": quantification.lesion_fraction_left,
        "lesion_fraction_right": quantification.lesion_fraction_right,
        "lesion_fraction_both": quantification.lesion_fraction_both,
        "lesion_hu_mean": hu.mean_hu,
        "lesion_hu_sd": hu.sd_hu,
        "lesion_hu_percentiles": hu.percentiles_hu,
        "lesion_hu_histogram": {"bin_edges_hu": hu.histogram_edges_hu, "counts": hu.histogram_counts},
        "zones": {zone.name: {"lesion_fraction": zone.lesion_fraction, "peripheral_fraction": zone.peripheral_fraction,
                              "central_fraction": zone.central_fraction, "score": zone.score}
                  for zone in quantification.zones},
        "severity_total": quantification.severity_total,
        "severity_max": quantification.severity_max,
        "lesion_pattern": dataclasses.asdict(quantification.pattern),
        "dependent_density_ml": quantification.dependent_density_ml,
        "report": quantification.to_dict(),
    }


def collect_unreferenced_overlays(*, now: datetime, grace: timedelta = COLLECT_GRACE) -> int:
    """Delete the overlay images older than ``grace`` that no overlay row names; return how many.

    Orphans come from analyses whose transaction rolled back after their images were put (a
    store or database outage, a study reopened meanwhile) and from deleted results. Safe to run
    twice at once: the second waits for the first's exclusive lock (PostgreSQL).
    """
    return collect_garbage(prefix=overlay_store.PREFIX, referenced=referenced_overlay_keys, now=now, grace=grace)
