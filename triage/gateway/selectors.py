"""Reads of DICOM nodes, of the hospital a DICOMweb or C-STORE sender stores into, and DICOMweb reads."""
from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field
from uuid import UUID

import pydicom
from django.db.models import Count, F, Min, Q, QuerySet
from pydicom.dataset import Dataset

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import ADMIN_ROLES, UPLOAD_ROLES, require_role
from triage.core.exceptions import DomainError, NotFound
from triage.gateway import qido
from triage.gateway.exceptions import TokenNotBoundToHospital
from triage.gateway.models import DicomNode
from triage.gateway.result_objects import ResultObject, result_objects_of
from triage.studies.models import Instance, Series, Study
from triage.studies.selectors import record_studies_listed, studies_visible_to
from triage.core.object_store import read_content
from triage.worklist.selectors import study_for_images

# Never a valid AE title (a backslash): keeps pynetdicom's "require a calling AE" check on
# even when no node is active, because an empty list there would mean "accept everyone".
NO_ACTIVE_NODE_SENTINEL = "\\"


def dicom_node_list(*, user: User, hospital: Hospital) -> QuerySet[DicomNode]:
    require_role(user=user, hospital=hospital, roles=ADMIN_ROLES)
    return DicomNode.objects.filter(hospital=hospital).order_by("ae_title")


def dicom_node_get(*, user: User, hospital: Hospital, node_uuid: UUID) -> DicomNode:
    node = dicom_node_list(user=user, hospital=hospital).filter(uuid=node_uuid).first()
    if node is None:
        raise NotFound()
    return node


def active_node_for_ae_title(*, ae_title: str) -> DicomNode | None:
    """Return the active node of a calling AE title (system read for the C-STORE SCP), or ``None``."""
    return DicomNode.objects.select_related("hospital").filter(ae_title=ae_title.strip(), is_active=True).first()


def active_ae_titles() -> list[str]:
    """Return the calling AE titles allowed to associate; never empty (see the sentinel)."""
    titles = list(DicomNode.objects.filter(is_active=True).values_list("ae_title", flat=True))
    return titles or [NO_ACTIVE_NODE_SENTINEL]


def stow_hospital_for(*, user: User) -> Hospital:
    """Return the hospital of the caller's token; it must be bound to one where the user may upload.

    DICOMweb never takes the hospital from the URL or the instances: only
    ``user.token_hospital_id`` (set by token authentication) counts.
    """
    hospital_id = getattr(user, "token_hospital_id", None)
    if hospital_id is None:
        raise TokenNotBoundToHospital()
    hospital = Hospital.objects.get(id=hospital_id)
    require_role(user=user, hospital=hospital, roles=UPLOAD_ROLES)
    return hospital


# --- DICOMweb read side (QIDO-RS, WADO-RS) ------------------------------------------------
#
# Every read starts from ``studies_visible_to``: a hospital-bound token sees its hospital, a
# session its memberships. Searches audit the studies they answer with (``study.listed``,
# ``via="qido-rs"``); retrievals audit ``study.viewed`` once per user, study and window, as the
# viewer's image reads do (a viewer fetching 300 frames writes one row, not 300).

# Matching keys held in columns (searched in the database); the others are matched against the
# header of the row's first instance.
COLUMNS = {
    qido.STUDY: {"StudyInstanceUID": "study_instance_uid", "StudyDate": "study_date",
                 "AccessionNumber": "accession_number", "PatientName": "patient_name", "PatientID": "patient_id",
                 "StudyDescription": "study_description", "ModalitiesInStudy": "series__modality"},
    qido.SERIES: {"SeriesInstanceUID": "series_instance_uid", "Modality": "modality",
                  "SeriesNumber": "series_number", "SeriesDescription": "series_description"},
    qido.INSTANCE: {"SOPInstanceUID": "sop_instance_uid", "InstanceNumber": "instance_number"},
}
PATH_TO = {  # from each level's model to the level's own fields, per level above it
    qido.STUDY: {qido.STUDY: ""},
    qido.SERIES: {qido.STUDY: "study__", qido.SERIES: ""},
    qido.INSTANCE: {qido.STUDY: "series__study__", qido.SERIES: "series__", qido.INSTANCE: ""},
}
BAD_DATE_MSG = "{keyword}={value!r} is not a DICOM date or date range (YYYYMMDD, YYYYMMDD-YYYYMMDD)."
BAD_INTEGER_MSG = "{keyword}={value!r} is not an integer."


@dataclass
class QidoRow:
    """One answer of a search: the row's first-instance header and the values computed for it."""

    study: Study
    header: Dataset
    computed: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)  # StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID of the row


def _date(keyword: str, value: str):
    try:
        return datetime.datetime.strptime(value, "%Y%m%d").date() if value else None
    except ValueError:
        raise DomainError(BAD_DATE_MSG.format(keyword=keyword, value=value)) from None


def _q_for(matcher: qido.Matcher, column: str) -> Q:
    if matcher.kind == "uid":
        return Q(**{f"{column}__in": matcher.uids})
    if matcher.kind == "date":
        low, high = matcher.range()
        q = Q(**{f"{column}__isnull": False})
        if low:
            q &= Q(**{f"{column}__gte": _date(matcher.keyword, low)})
        if high:
            q &= Q(**{f"{column}__lte": _date(matcher.keyword, high)})
        return q
    if matcher.kind == "integer":
        try:
            return Q(**{column: int(matcher.value)})
        except ValueError:
            raise DomainError(BAD_INTEGER_MSG.format(keyword=matcher.keyword, value=matcher.value)) from None
    insensitive = "i" if matcher.keyword in qido.PERSON_NAMES else ""
    if matcher.is_wildcard:
        return Q(**{f"{column}__{insensitive}regex": matcher.regex()})
    return Q(**{f"{column}__{insensitive}exact": matcher.value})


def _base_queryset(level: str, *, user: User) -> QuerySet:
    visible = studies_visible_to(user=user)
    if level == qido.STUDY:
        return visible.select_related("hospital").order_by("-study_date", "-received_at", "id")
    if level == qido.SERIES:
        return (Series.objects.filter(study__in=visible).select_related("study")
                .order_by("study_id", "series_number", "id"))
    return (Instance.objects.filter(series__study__in=visible, decode_error="").select_related("series__study")
            .order_by("series__study_id", "series__series_number", "series_id", "instance_number", "id"))


def _first_instance_ids(level: str, rows: list) -> dict[int, int]:
    if level == qido.INSTANCE:
        return {row.id: row.id for row in rows}
    group = "series__study_id" if level == qido.STUDY else "series_id"
    firsts = (Instance.objects.filter(**{f"{group}__in": [r.id for r in rows]}).values(group)
              .annotate(first=Min("id")))
    return {f[group]: f["first"] for f in firsts}


def read_header(instance: Instance | WadoObject | ResultObject) -> Dataset:
    """Read a stored instance's (or result object's) header (no pixel data)."""
    return pydicom.dcmread(io.BytesIO(read_content(instance.storage_path)), stop_before_pixels=True)


def _computed(level: str, rows: list) -> dict[int, dict]:
    ids = [r.id for r in rows]
    if level == qido.STUDY:
        counts = {c["series__study_id"]: c["n"] for c in Instance.objects.filter(series__study_id__in=ids)
                  .values("series__study_id").annotate(n=Count("id"))}
        modalities: dict[int, set[str]] = {}
        series_counts: dict[int, int] = {}
        for study_id, modality in Series.objects.filter(study_id__in=ids).values_list("study_id", "modality"):
            modalities.setdefault(study_id, set()).add(modality)
            series_counts[study_id] = series_counts.get(study_id, 0) + 1
        return {i: {"ModalitiesInStudy": sorted(modalities.get(i, ())), "NumberOfStudyRelatedSeries":
                    series_counts.get(i, 0), "NumberOfStudyRelatedInstances": counts.get(i, 0)} for i in ids}
    if level == qido.SERIES:
        counts = {c["series_id"]: c["n"] for c in Instance.objects.filter(series_id__in=ids)
                  .values("series_id").annotate(n=Count("id"))}
        return {i: {"NumberOfSeriesRelatedInstances": counts.get(i, 0)} for i in ids}
    return {i: {} for i in ids}


def _study_of(level: str, row) -> Study:
    return {qido.STUDY: lambda: row, qido.SERIES: lambda: row.study, qido.INSTANCE: lambda: row.series.study}[level]()


def _ids_of(level: str, row) -> dict[str, str]:
    study = _study_of(level, row)
    ids = {"StudyInstanceUID": study.study_instance_uid}
    if level != qido.STUDY:
        ids["SeriesInstanceUID"] = (row if level == qido.SERIES else row.series).series_instance_uid
    if level == qido.INSTANCE:
        ids["SOPInstanceUID"] = row.sop_instance_uid
    return ids


def qido_search(*, user: User, query: qido.Query, study_instance_uid: str | None = None,
                series_instance_uid: str | None = None) -> list[QidoRow]:
    """Answer a QIDO-RS search of the studies the user may see; audit the studies answered.

    Keys held in columns filter in the database; the others (such as StudyTime) are matched
    against the first instance's header, scanning in order until ``offset + limit`` rows match.
    """
    qs = _base_queryset(query.level, user=user)
    paths = PATH_TO[query.level]
    results: list[QidoRow] = []
    if study_instance_uid is not None:  # a search inside a study (series): 404 unless it is visible
        studies = list(studies_visible_to(user=user).filter(study_instance_uid=study_instance_uid))
        if not studies:
            raise NotFound()
        results = _result_rows(query, studies=studies, series_instance_uid=series_instance_uid)
        if series_instance_uid is not None and not results and not Series.objects.filter(
                study__in=studies, series_instance_uid=series_instance_uid).exists():
            raise NotFound()
        qs = qs.filter(**{f"{paths[qido.STUDY]}study_instance_uid": study_instance_uid})
    if series_instance_uid is not None:
        qs = qs.filter(**{f"{paths[qido.SERIES]}series_instance_uid": series_instance_uid})
    in_headers = []
    for matcher in query.matchers:
        level = next(lvl for lvl in paths if matcher.keyword in qido.MATCHING_KEYS[lvl])
        column = COLUMNS[level].get(matcher.keyword)
        if column is None:
            in_headers.append(matcher)
        else:
            qs = qs.filter(_q_for(matcher, paths[level] + column))
    if any(m.keyword == "ModalitiesInStudy" for m in query.matchers):
        qs = qs.distinct()
    rows: list[QidoRow] = []
    skipped = 0
    batch_size = query.offset + query.limit if not in_headers else max(query.limit, 100)
    start = 0 if in_headers else query.offset
    while len(rows) < query.limit:
        batch = list(qs[start:start + batch_size])
        if not batch:
            break
        start += len(batch)
        firsts = _first_instance_ids(query.level, batch)
        instances = Instance.objects.in_bulk(list(firsts.values()))
        computed = _computed(query.level, batch)
        for row in batch:
            first = instances.get(firsts.get(row.id))
            if first is None:
                continue
            header = read_header(first)
            if not all(m.matches(str(header.get(m.keyword, "") or "")) for m in in_headers):
                continue
            if in_headers and skipped < query.offset:
                skipped += 1
                continue
            rows.append(QidoRow(study=_study_of(query.level, row), header=header, computed=computed[row.id],
                                ids=_ids_of(query.level, row)))
            if len(rows) == query.limit:
                break
        if not in_headers:
            break
    if len(rows) < query.limit and results:  # the result series come after the stored ones
        stored = qs.count() if not in_headers else skipped + len(rows)
        start = max(query.offset - stored, 0) if not rows else 0
        rows += results[start:start + query.limit - len(rows)]
    if rows:
        record_studies_listed(user=user, studies={r.study.id: r.study for r in rows}.values(), via="qido-rs")
    return rows


@dataclass(frozen=True)
class WadoObject:
    """One instance WADO-RS answers: a stored instance or a result object, with its file in the study store."""

    study: Study
    series_instance_uid: str
    sop_instance_uid: str
    storage_path: str

    @property
    def ids(self) -> tuple[str, str, str]:
        return self.study.study_instance_uid, self.series_instance_uid, self.sop_instance_uid


def _result_objects(study: Study, *, series_instance_uid: str | None = None,
                    sop_instance_uid: str | None = None) -> list[ResultObject]:
    return [o for o in result_objects_of(study)
            if series_instance_uid in (None, o.series_instance_uid) and sop_instance_uid in (None, o.sop_instance_uid)]


def _result_rows(query: qido.Query, *, studies: list[Study], series_instance_uid: str | None) -> list[QidoRow]:
    """Return the QIDO-RS rows (series or instances) of the studies' result objects that match ``query``.

    No result object is in a column, so every key is matched against the object's header.
    """
    if query.level == qido.STUDY:
        return []
    rows = []
    for study in studies:
        by_series: dict[str, list[ResultObject]] = {}
        for obj in _result_objects(study, series_instance_uid=series_instance_uid):
            by_series.setdefault(obj.series_instance_uid, []).append(obj)
        for series_uid, objects in by_series.items():
            members = objects[:1] if query.level == qido.SERIES else objects
            for obj in members:
                header = read_header(obj)
                if not all(m.matches(str(header.get(m.keyword, "") or "")) for m in query.matchers):
                    continue
                ids = {"StudyInstanceUID": study.study_instance_uid, "SeriesInstanceUID": series_uid}
                computed = {"NumberOfSeriesRelatedInstances": len(objects)} if query.level == qido.SERIES else {}
                if query.level == qido.INSTANCE:
                    ids["SOPInstanceUID"] = obj.sop_instance_uid
                rows.append(QidoRow(study=study, header=header, computed=computed, ids=ids))
    return rows


def wado_instances(*, user: User, study_instance_uid: str, series_instance_uid: str | None = None,
                   sop_instance_uid: str | None = None) -> list[WadoObject]:
    """Return the visible instances of a study (series, instance) for WADO-RS, in series and slice order.

    The study's result objects (the current AI result as DICOM) follow its stored instances;
    they are looked up only when the request is not answered by stored instances alone (a
    whole study, or a series or instance that is not stored), so frame reads of a CT series
    never build results. The same StudyInstanceUID at two hospitals the user sees is two
    studies; both are answered. Nothing visible is the same 404 as nothing at all.
    """
    studies = list(studies_visible_to(user=user).filter(study_instance_uid=study_instance_uid))
    qs = Instance.objects.filter(series__study__in=studies, decode_error="").select_related("series__study")
    if series_instance_uid is not None:
        qs = qs.filter(series__series_instance_uid=series_instance_uid)
    if sop_instance_uid is not None:
        qs = qs.filter(sop_instance_uid=sop_instance_uid)
    instances = [WadoObject(study=i.series.study, series_instance_uid=i.series.series_instance_uid,
                            sop_instance_uid=i.sop_instance_uid, storage_path=i.storage_path)
                 for i in qs.order_by("series__series_number", "series_id",
                                      F("z_position_mm").asc(nulls_last=True), "instance_number", "id")]
    if series_instance_uid is None or not instances:
        instances += [WadoObject(study=study, series_instance_uid=o.series_instance_uid,
                                 sop_instance_uid=o.sop_instance_uid, storage_path=o.storage_path)
                      for study in studies
                      for o in _result_objects(study, series_instance_uid=series_instance_uid,
                                               sop_instance_uid=sop_instance_uid)]
    if not instances:
        raise NotFound()
    for study in {i.study.id: i.study for i in instances}.values():
        study_for_images(user=user, study_uuid=study.uuid)
    return instances
