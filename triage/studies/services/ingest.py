"""The ingest step (runs on the ingest queue): decode a received study, choose and order its series.

A step service: it returns an :class:`IngestOutcome` and never enqueues; :mod:`triage.pipeline.services`
decides what runs next.
"""
from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from triage.core.exceptions import StorageOffline
from triage.core import object_store
from triage.studies.dicom_headers import RejectedFile, is_decoder_failure, read_dataset
from triage.studies.exceptions import IllegalStudyTransition, NoUsableSeries
from triage.studies.geometry import MIN_SLICES, SliceGeometry, order_slices, select_stack, slice_geometry
from triage.studies.leases import CLAIM_LEASE, LeaseHeartbeat
from triage.studies.models import Instance, Series, Study
from triage.studies.services.states import mark_study_queued, release_claim_after_transient_error
from triage.studies.stability import seconds_until_stable

logger = logging.getLogger(__name__)

CORRUPT_PIXELS_MSG = "Pixel data cannot be decoded ({error})."
NO_DECODABLE_MSG = "none of the {count} received images could be decoded"
NO_AXIAL_STACK_MSG = ("no axial CT series with at least {min_slices} slices of one size and orientation "
                      "({count} decodable images received)")

Status = Study.Status


def _decode_instance(instance: Instance) -> tuple[SliceGeometry | None, str]:
    """Read one stored file, decode its pixels fully once; return its geometry or the decode error.

    The header passed every upload check already, so only the geometry is read here.
    """
    try:
        ds = read_dataset(object_store.read_content(instance.storage_path))
        geometry = slice_geometry(ds, instance_id=instance.id, series_id=instance.series_id)
        pixels = ds.pixel_array
        if pixels.shape != (geometry.rows, geometry.columns):
            raise ValueError(f"pixel array shape {pixels.shape}")
    except FileNotFoundError:
        return None, "The stored file is missing."
    except StorageOffline:
        raise  # the store is down, the file is fine: the task retries
    except RejectedFile as exc:
        return None, str(exc)
    except BaseException as exc:  # pydicom/numpy raise many types on corrupt pixel data; Rust decoders panic
        if not is_decoder_failure(exc):
            raise
        return None, CORRUPT_PIXELS_MSG.format(error=type(exc).__name__)[:300]
    return geometry, ""


class AfterIngest(enum.Enum):
    """What the ingest step asks for next."""

    ANALYSE = "analyse"            # the study is queued for analysis
    INGEST_AGAIN = "ingest_again"  # instances arrived meanwhile: the claim was released
    WAIT = "wait"                  # an instance arrived within the stable age: ingest after ``wait_s``
    NOTHING = "nothing"            # missing, past received, or claimed by another worker


@dataclass(frozen=True)
class IngestOutcome:
    next_step: AfterIngest
    study: Study | None = None  # the queued study, for ANALYSE
    wait_s: float = 0.0  # for WAIT: until the study is stable


def ingest_study(*, study_id: int, now: datetime | None = None) -> IngestOutcome:
    """Decode a ``received`` study, select and order its axial CT series, move it to ``queued``.

    Claims the study with a lease (a conditional update), so a duplicate or re-delivered task
    does nothing: the outcome is ``NOTHING`` when the study is missing, past ``received`` or
    held by another worker. Every instance is decoded once; undecodable ones keep their reason in
    ``Instance.decode_error``. Series choice and slice order follow
    :mod:`triage.studies.geometry`. Raises :class:`NoUsableSeries` when nothing can be
    analysed (the task's failure hook then marks the study failed with that message).
    If instances arrived while it ran, the claim is released and the outcome asks to ingest again.
    A study that received an instance within the stable age is left alone and the outcome asks
    to ingest again once it is stable (:mod:`triage.studies.stability`).
    """
    now = now or timezone.now()
    lease_until = now + CLAIM_LEASE
    last_instance_at = (Study.objects.filter(id=study_id, status=Status.RECEIVED)
                        .values_list("last_instance_received_at", flat=True).first())
    wait_s = seconds_until_stable(last_instance_received_at=last_instance_at, now=now)
    if wait_s > 0:
        logger.info("studies.ingest_not_stable", extra={"study_id": study_id, "wait_s": wait_s})
        return IngestOutcome(AfterIngest.WAIT, wait_s=wait_s)
    claimable = Q(status=Status.RECEIVED) & (Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    if not Study.objects.filter(claimable, id=study_id).update(lease_until=lease_until):
        logger.info("studies.ingest_skipped", extra={"study_id": study_id})
        return IngestOutcome(AfterIngest.NOTHING)
    heartbeat = LeaseHeartbeat(study_id=study_id, lease_until=lease_until)
    try:
        with heartbeat:  # a short lease, renewed while this worker lives (triage/studies/leases.py)
            return _ingest_claimed(study_id=study_id)
    except (OperationalError, StorageOffline):
        release_claim_after_transient_error(study_id=study_id, lease_until=heartbeat.lease_until)
        raise


def _ingest_claimed(*, study_id: int) -> IngestOutcome:
    study = Study.objects.get(id=study_id)
    snapshot = study.last_instance_received_at
    instances = list(Instance.objects.filter(series__study=study).order_by("id"))
    geometries, errors = [], {}
    for instance in instances:
        geometry, error = _decode_instance(instance)
        if geometry is None:
            errors[instance.id] = error
        else:
            geometries.append(geometry)
    stack = select_stack(geometries)
    with transaction.atomic():
        for instance in instances:
            instance.decode_error = errors.get(instance.id, "")
        Instance.objects.bulk_update(instances, ["decode_error"], batch_size=500)
        if stack is None:
            Study.objects.filter(id=study_id).update(lease_until=None)
    if stack is None:
        detail = (NO_DECODABLE_MSG.format(count=len(instances)) if not geometries
                  else NO_AXIAL_STACK_MSG.format(min_slices=MIN_SLICES, count=len(geometries)))
        raise NoUsableSeries(detail)
    ordered = order_slices(stack)
    with transaction.atomic():
        # The stored order: a position for each slice of the chosen stack, none for any other
        # instance (a stack chosen by an earlier ingest must not linger in the order).
        z_by_id = dict(zip(ordered.instance_ids, ordered.z_positions_mm))
        for instance in instances:
            instance.z_position_mm = z_by_id.get(instance.id)
        Instance.objects.bulk_update(instances, ["z_position_mm"], batch_size=500)
        Series.objects.filter(study_id=study_id, is_selected=True).update(is_selected=False)
        series = Series.objects.get(id=ordered.series_id)
        series.is_selected = True
        series.spacing_between_slices_mm = ordered.spacing_between_slices_mm
        series.save(update_fields=["is_selected", "spacing_between_slices_mm"])
        Study.objects.filter(id=study_id).update(selected_series=series)
        try:
            queued = mark_study_queued(
                study_id=study_id, expect_last_instance_at=snapshot,
                extra={"series": str(series.uuid), "slices": len(ordered.instance_ids),
                       "ordered_by": ordered.ordered_by, "undecodable": len(errors)},
            )
            return IngestOutcome(AfterIngest.ANALYSE, queued)
        except IllegalStudyTransition:
            pass
    # New instances arrived meanwhile (or the study changed state): release and ingest again.
    if Study.objects.filter(id=study_id, status=Status.RECEIVED).update(lease_until=None):
        return IngestOutcome(AfterIngest.INGEST_AGAIN)
    return IngestOutcome(AfterIngest.NOTHING)
