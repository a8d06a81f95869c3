"""Reads for the worklist and the study viewer, always scoped to the user's hospitals.

Worklist order (:func:`worklist_page`), in three tiers:

1. **Overdue** — unreviewed studies waiting longer than their hospital's ``max_wait_minutes``
   (any status: a study stuck in processing or failed needs a human too), oldest first.
2. **By probability** — the other analysed studies, highest calibrated COVID-19 probability
   first, ties oldest first.
3. **Not analysed yet** — pending, processing and failed studies (no current result) after the
   analysed ones, oldest first, until they become overdue and rise to tier 1.

Neither tier is sorted in memory: tier 1 walks the ``(reviewed, received_at, id)`` index and
tier 2+3 the ``(sort_probability DESC, received_at, id)`` index (``sort_probability`` is -1
when not analysed), and a page is cut
from the two ordered queries with LIMIT/OFFSET arithmetic on the tier-1 count. Counts stop at
``COUNT_LIMIT`` ("10000+"): an exact count of 100k rows would cost more than the page itself.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from uuid import UUID

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from triage.accounts.models import User
from triage.accounts.tenancy import hospitals_visible_to
from triage.core.dates import within_days
from triage.core.exceptions import NotFound
from triage.results.models import Overlay, Result
from triage.results.selectors import current_result_for, current_results
from triage.studies.models import Instance, Study
from triage.studies.selectors import access_study, ordered_slices, record_studies_listed, study_get
from triage.worklist.models import WorklistEntry, WorklistVersion

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
COUNT_LIMIT = 10_000
IMAGE_AUDIT_WINDOW = timedelta(minutes=30)
SLICE_NOT_FOUND_MSG = "Slice not found."
OVERLAY_NOT_FOUND_MSG = "Overlay not found."


class WorklistState:
    """The worklist's view of Study.Status: received and queued both read as pending."""

    PENDING = "pending"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"
    CHOICES = [(PENDING, "Pending"), (PROCESSING, "Processing"), (READY, "Ready"), (FAILED, "Failed")]
    STATUSES = {
        PENDING: (Study.Status.RECEIVED, Study.Status.QUEUED),
        PROCESSING: (Study.Status.PROCESSING,),
        READY: (Study.Status.READY,),
        FAILED: (Study.Status.FAILED,),
    }

    @classmethod
    def of(cls, status: str) -> str:
        return next(state for state, statuses in cls.STATUSES.items() if status in statuses)


class PriorityReason:
    OVERDUE = "overdue"
    PROBABILITY = "probability"
    NOT_ANALYSED = "not_analysed"
    NOT_APPLICABLE = "not_applicable"  # analysed, outside the model's domain: waits in time order


@dataclass(frozen=True)
class WorklistFilters:
    hospital_uuid: UUID | None = None
    state: str | None = None
    label: str | None = None
    reviewed: bool | None = False  # None: signed and unsigned
    received_from: date | None = None
    received_to: date | None = None
    search: str = ""


@dataclass(frozen=True)
class WorklistRow:
    entry: WorklistEntry
    overdue: bool
    waiting: timedelta

    @property
    def study(self) -> Study:
        return self.entry.study

    @property
    def state(self) -> str:
        return WorklistState.of(self.entry.status)

    @property
    def priority_reason(self) -> str:
        if self.overdue:
            return PriorityReason.OVERDUE
        if self.entry.not_applicable_reason:
            return PriorityReason.NOT_APPLICABLE
        if self.entry.covid_probability is None:
            return PriorityReason.NOT_ANALYSED
        return PriorityReason.PROBABILITY

    @property
    def waiting_minutes(self) -> int:
        return int(self.waiting.total_seconds() // 60)


@dataclass(frozen=True)
class WorklistPage:
    rows: list[WorklistRow]
    count: int
    overdue_count: int
    page: int
    page_size: int
    count_is_exact: bool = True

    @property
    def page_count(self) -> int:
        return max(1, -(-self.count // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.page < self.page_count or (not self.count_is_exact and len(self.rows) == self.page_size)


@dataclass
class _Caps:
    """Visible hospitals grouped by their wait cap: {max_wait_minutes: [hospital ids]}."""

    by_minutes: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))

    def overdue_q(self, *, now: datetime) -> Q:
        q = Q(pk__in=[])
        for minutes, hospital_ids in self.by_minutes.items():
            q |= Q(hospital_id__in=hospital_ids, received_at__lt=now - timedelta(minutes=minutes))
        return Q(reviewed=False) & q

    def not_overdue_q(self, *, now: datetime) -> Q:
        """The complement of :meth:`overdue_q` as positive conditions (plannable, unlike NOT)."""
        q = Q(reviewed=True)
        for minutes, hospital_ids in self.by_minutes.items():
            q |= Q(hospital_id__in=hospital_ids, received_at__gte=now - timedelta(minutes=minutes))
        return q

    @property
    def hospital_ids(self) -> list[int]:
        return [h for ids in self.by_minutes.values() for h in ids]


def _visible_caps(*, user: User, hospital_uuid: UUID | None) -> _Caps:
    """Read the wait caps of the hospitals the user may see (the tenancy scope of every worklist read)."""
    hospitals = hospitals_visible_to(user=user)
    if hospital_uuid is not None:
        hospitals = hospitals.filter(uuid=hospital_uuid)
    caps = _Caps()
    for hospital_id, minutes in hospitals.values_list("id", "max_wait_minutes"):
        caps.by_minutes[minutes].append(hospital_id)
    return caps


def _filtered(*, filters: WorklistFilters, caps: _Caps) -> QuerySet[WorklistEntry]:
    """Entries of the visible hospitals in ``caps`` (ids from the scoped hospital selector) matching ``filters``."""
    qs = WorklistEntry.objects.filter(hospital_id__in=caps.hospital_ids)
    if filters.state:
        qs = qs.filter(status__in=WorklistState.STATUSES[filters.state])
    if filters.label:
        qs = qs.filter(predicted_label=filters.label)
    if filters.reviewed is not None:
        qs = qs.filter(reviewed=filters.reviewed)
    qs = qs.filter(within_days("received_at", first=filters.received_from, last=filters.received_to))
    if filters.search:
        # Prefix, any case: what a reader types from a request slip ("acc-12" finds "ACC-1234").
        qs = qs.filter(Q(accession_number__istartswith=filters.search) | Q(patient_id__istartswith=filters.search))
    return qs


def _count_up_to(qs: QuerySet, *, limit: int) -> int:
    """Count rows, stopping at ``limit`` (a LIMITed subquery: no full scan of a large result)."""
    return qs.order_by()[:limit].count()


def worklist_page(*, user: User, filters: WorklistFilters, page: int = 1, page_size: int = PAGE_SIZE,
                  now: datetime | None = None) -> WorklistPage:
    """Return one page of the user's worklist in triage order (module docstring)."""
    now = now or timezone.now()
    page, page_size = max(1, page), max(1, min(page_size, MAX_PAGE_SIZE))
    caps = _visible_caps(user=user, hospital_uuid=filters.hospital_uuid)
    if not caps.by_minutes:
        return WorklistPage(rows=[], count=0, overdue_count=0, page=page, page_size=page_size)
    base = _filtered(filters=filters, caps=caps)
    overdue = base.filter(caps.overdue_q(now=now)).order_by("received_at", "id")
    rest = base.filter(caps.not_overdue_q(now=now)).order_by("-sort_probability", "received_at", "id")
    start, stop = (page - 1) * page_size, page * page_size
    count = _count_up_to(base, limit=COUNT_LIMIT)
    # Exact whenever the page reaches past the overdue tier, which is all the offsets need.
    overdue_count = _count_up_to(overdue, limit=max(COUNT_LIMIT, stop))

    picked: list[tuple[int, bool]] = []
    if start < overdue_count:
        picked += [(pk, True) for pk in overdue.values_list("id", flat=True)[start:stop]]
    if len(picked) < page_size and stop > overdue_count:
        rest_start = max(0, start - overdue_count)
        rest_stop = rest_start + page_size - len(picked)
        picked += [(pk, False) for pk in rest.values_list("id", flat=True)[rest_start:rest_stop]]
    # Join study and hospital for the page's rows only: joining before LIMIT would hash-join every study.
    entries = WorklistEntry.objects.select_related("study", "hospital").in_bulk([pk for pk, _ in picked])
    rows = [WorklistRow(entry=entries[pk], overdue=o, waiting=now - entries[pk].received_at)
            for pk, o in picked if pk in entries]
    record_studies_listed(user=user, studies=[row.entry.study for row in rows], via="worklist")
    return WorklistPage(rows=rows, count=count, overdue_count=overdue_count, page=page, page_size=page_size,
                        count_is_exact=count < COUNT_LIMIT)


def worklist_version(*, user: User, now: datetime | None = None) -> str:
    """Return a short token that changes when any visible hospital's worklist changes.

    It also changes every minute, so waiting times and newly overdue studies show without reload.
    """
    now = now or timezone.now()
    hospital_ids = hospitals_visible_to(user=user).values("id")
    versions = sorted(WorklistVersion.objects.filter(hospital_id__in=hospital_ids)
                      .values_list("hospital_id", "version"))
    token = f"{user.pk}|{versions}|{int(now.timestamp() // 60)}"
    return hashlib.sha256(token.encode()).hexdigest()[:32]


# --- Study viewer ----------------------------------------------------------------------

@dataclass(frozen=True)
class ViewerData:
    study: Study
    result: Result | None
    slice_count: int
    overlays: list[dict]
    image_orientation_patient: list[float] | None = None  # (0020,0037) of the shown series


def viewer_data(*, user: User, study_uuid: UUID) -> ViewerData:
    """Open a study in the viewer: one audited read (``study.viewed``) of the study and its result."""
    study = access_study(user=user, study_uuid=study_uuid)
    result = current_result_for(study=study)
    overlays = []
    if result is not None:
        overlays = list(Overlay.objects.filter(result=result).order_by("slice_index", "kind")
                        .values("slice_index", "kind", "width_px", "height_px"))
    instances = ordered_slices(study=study)
    return ViewerData(study=study, result=result, slice_count=instances.count(), overlays=overlays,
                      image_orientation_patient=instances.values_list(
                          "series__image_orientation_patient", flat=True).first())


def study_for_images(*, user: User, study_uuid: UUID) -> Study:
    """Fetch a visible study for its pixel data, auditing at most once per user, study and window.

    Scrolling a 300-slice study must not write 300 audit rows: the first image read of a
    ``IMAGE_AUDIT_WINDOW`` writes ``study.viewed`` (as opening the viewer does); later reads in
    the window are scoped but not audited. The window is kept in the cache, per process.
    """
    study = study_get(user=user, study_uuid=study_uuid)
    key = f"worklist:image-audit:{user.pk}:{study.uuid}"
    if cache.add(key, 1, timeout=int(IMAGE_AUDIT_WINDOW.total_seconds())):
        access_study(user=user, study_uuid=study.uuid)
    return study


def slice_instance(*, study: Study, index: int) -> Instance:
    """Return slice ``index`` (0-based) of the study's ordered slices (feet to head)."""
    instance = ordered_slices(study=study).only("id", "storage_path", "sha256")[index:index + 1].first()
    if instance is None:
        raise NotFound(SLICE_NOT_FOUND_MSG)
    return instance


def overlay_get(*, study: Study, index: int, kind: str) -> Overlay:
    """Return the current result's overlay of ``kind`` (``gradcam`` or ``lesion``) on slice ``index``."""
    overlay = Overlay.objects.filter(result__in=current_results(studies=[study]), slice_index=index, kind=kind).first()
    if overlay is None:
        raise NotFound(OVERLAY_NOT_FOUND_MSG)
    return overlay


def waiting_counts(*, user: User) -> dict[int, int]:
    """Return ``{hospital_id: unreviewed studies}`` for the hospitals the user sees (no patient data: not audited)."""
    hospital_ids = hospitals_visible_to(user=user).values("id")
    rows = (WorklistEntry.objects.filter(hospital_id__in=hospital_ids, reviewed=False)
            .values("hospital_id").annotate(n=Count("id")).values_list("hospital_id", "n"))
    return dict(rows)


def next_unreviewed_study(*, user: User, after: Study, hospital_uuid: UUID | None = None) -> Study | None:
    """Return the study at the top of the user's unreviewed worklist other than ``after`` ("next study")."""
    page = worklist_page(user=user, filters=WorklistFilters(hospital_uuid=hospital_uuid, reviewed=False), page_size=2)
    return next((row.study for row in page.rows if row.study.pk != after.pk), None)


def slice_z_positions(*, study: Study) -> list[float | None]:
    """Return the (0020,0032) z of each slice of the selected series, in slice order (for matching priors)."""
    return list(ordered_slices(study=study).values_list("z_position_mm", flat=True))
