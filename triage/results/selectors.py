"""Reads of model versions (platform metadata, no patient data) and of stored results."""
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from triage.accounts.permissions import ADMIN_ROLES, acts_as_platform_admin, hospitals_with_role, require_platform_admin
from triage.core.exceptions import NotFound
from triage.core.object_store import read_content
from triage.results.models import Candidate, ModelVersion, Overlay, Result


def model_version_list(*, user) -> QuerySet[ModelVersion]:
    require_platform_admin(user=user)
    return ModelVersion.objects.order_by("-registered_at")


def active_model_version() -> ModelVersion | None:
    """Return the model version new analyses use (None before the first is registered)."""
    return ModelVersion.objects.filter(is_active=True).first()


def known_class_labels() -> list[str]:
    """Return every class label a registered model version can give, sorted (the worklist's label filter)."""
    labels: set[str] = set()
    for names in ModelVersion.objects.values_list("class_names", flat=True):
        labels.update(str(n) for n in (names or []))
    return sorted(labels)


def result_for_model_version(*, study_id: int, model_version: ModelVersion) -> Result | None:
    """Return the result ``model_version`` stored for the study, if any (results are keyed on both)."""
    return Result.objects.filter(study_id=study_id, model_version=model_version).first()


def current_results(*, studies: QuerySet | None = None) -> QuerySet[Result]:
    """Return the current result of each study (of ``studies`` when given): the one every page and export shows."""
    results = Result.objects.filter(is_current=True)
    return results if studies is None else results.filter(study__in=studies)


def current_result_for(*, study) -> Result | None:
    """Return the study's current AI result with its model version and quantification, or ``None``."""
    return (current_results().filter(study_id=study.pk)
            .select_related("model_version", "quantification").first())


@dataclass(frozen=True)
class KeySlice:
    """A slice the result points the reader to, with the overlay kinds stored for it."""

    index: int  # 0-based position in the study's ordered slices (volume, URLs, overlays)
    kinds: tuple[str, ...]

    @property
    def number(self) -> int:
        """Return the 1-based slice number every page shows (as radiologists count)."""
        return self.index + 1


def key_slices(*, result: Result) -> list[KeySlice]:
    """Return the result's key slices in slice order, each with its overlay kinds (viewer and report use this)."""
    kinds: dict[int, list[str]] = defaultdict(list)
    for index, kind in (Overlay.objects.filter(result=result).order_by("slice_index", "kind")
                        .values_list("slice_index", "kind")):
        kinds[index].append(kind)
    return [KeySlice(index, tuple(kinds.get(index, ()))) for index in sorted(set(result.key_slice_indices) | set(kinds))]


def open_candidate_versions(*, hospital) -> list[ModelVersion]:
    """Return the model versions running in shadow for ``hospital`` (its own candidacies and those for all)."""
    candidacies = Candidate.objects.filter(Q(hospital=hospital) | Q(hospital__isnull=True), ended_at__isnull=True,
                                           model_version__is_active=False)
    return list(ModelVersion.objects.filter(candidacies__in=candidacies).distinct().order_by("id"))


def candidates_visible_to(*, user) -> QuerySet[Candidate]:
    """Return the candidacies ``user`` may see, newest first: all for a platform admin; for a hospital admin,
    those of the hospitals they administer and those for every hospital (read-only for them)."""
    candidates = Candidate.objects.select_related("model_version", "hospital", "started_by").order_by("-started_at")
    if acts_as_platform_admin(user=user):
        return candidates
    administered = hospitals_with_role(user=user, roles=ADMIN_ROLES)
    if not administered.exists():
        return candidates.none()
    return candidates.filter(Q(hospital__in=administered) | Q(hospital__isnull=True))


def open_candidacies() -> QuerySet[Candidate]:
    """Return the candidacies running now (not ended, model not promoted meanwhile), oldest first."""
    return Candidate.objects.filter(ended_at__isnull=True, model_version__is_active=False).order_by("started_at")


def candidate_get(*, user, candidate_uuid) -> Candidate:
    """Return a candidacy ``user`` may see; any other gets the same ``NotFound`` as a missing one."""
    candidate = candidates_visible_to(user=user).filter(uuid=candidate_uuid).first()
    if candidate is None:
        raise NotFound()
    return candidate



def overlay_png(*, overlay: Overlay) -> bytes:
    """Return the overlay's rendered PNG, read from the object store (tens of kB: read whole)."""
    return read_content(overlay.png_key)


def overlay_heatmap(*, overlay: Overlay) -> bytes | None:
    """Return the overlay's raw heatmap PNG from the object store, or None when it has none (a lesion outline)."""
    return read_content(overlay.heatmap_key) if overlay.heatmap_key else None


def referenced_overlay_keys(keys: list[str]) -> set[str]:
    """Return those of ``keys`` that some overlay row names (the store collector keeps them)."""
    rows = Overlay.objects.filter(Q(png_key__in=keys) | Q(heatmap_key__in=keys)).values_list("png_key", "heatmap_key")
    return {key for pair in rows for key in pair} & set(keys)
