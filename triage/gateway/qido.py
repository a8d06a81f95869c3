"""QIDO-RS (PS3.18 10.6) query parameters and attribute matching (PS3.4 C.2.2.2); pure, no database.

A query names attributes by keyword (``PatientName``) or tag (``00100010``). The values match as
DICOM says for the attribute's kind:

- ``uid``: one UID or a list separated by commas or backslashes (list of UID matching);
- ``text``: exact, or wildcard with ``*`` (any run) and ``?`` (one character); person names
  (``PatientName``, ``ReferringPhysicianName``) match case-insensitively;
- ``date`` / ``time``: one value or a range ``A-B``, ``A-``, ``-B``;
- ``integer``: one number.

An empty value matches everything. ``includefield`` (repeated or comma-separated keywords or
tags, or ``all``) adds attributes to the answer; ``limit`` and ``offset`` page it;
``fuzzymatching=false`` is accepted (fuzzy matching is not offered). A DICOM attribute that is
not a matching key of the level is an error naming the keys; a parameter that is no DICOM
attribute at all is ignored and named in a ``Warning`` header.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset

from triage.core.exceptions import DomainError
from triage.gateway.dicomweb import dicom_json

STUDY, SERIES, INSTANCE = "study", "series", "instance"
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
PERSON_NAMES = frozenset({"PatientName", "ReferringPhysicianName"})
CONTROL_PARAMETERS = frozenset({"includefield", "limit", "offset", "fuzzymatching"})

# Matching keys per level (PS3.18 Table 10.6.1-5) and the kind of matching each takes.
MATCHING_KEYS: dict[str, dict[str, str]] = {
    STUDY: {"StudyInstanceUID": "uid", "StudyDate": "date", "StudyTime": "time", "AccessionNumber": "text",
            "ModalitiesInStudy": "text", "ReferringPhysicianName": "text", "PatientName": "text",
            "PatientID": "text", "StudyID": "text", "StudyDescription": "text"},
    SERIES: {"SeriesInstanceUID": "uid", "Modality": "text", "SeriesNumber": "integer",
             "SeriesDescription": "text", "PerformedProcedureStepStartDate": "date",
             "PerformedProcedureStepStartTime": "time"},
    INSTANCE: {"SOPInstanceUID": "uid", "SOPClassUID": "uid", "InstanceNumber": "integer"},
}
# Attributes answered by default per level (PS3.18 Table 10.6.3-3 to -5).
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    STUDY: ("SpecificCharacterSet", "StudyDate", "StudyTime", "AccessionNumber", "ReferringPhysicianName",
            "TimezoneOffsetFromUTC", "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
            "StudyInstanceUID", "StudyID", "StudyDescription"),
    SERIES: ("SpecificCharacterSet", "Modality", "TimezoneOffsetFromUTC", "SeriesDescription",
             "SeriesInstanceUID", "PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime",
             "SeriesNumber"),
    INSTANCE: ("SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID", "TimezoneOffsetFromUTC", "InstanceNumber",
               "Rows", "Columns", "BitsAllocated", "NumberOfFrames"),
}
LEVELS_ABOVE = {STUDY: (STUDY,), SERIES: (STUDY, SERIES), INSTANCE: (STUDY, SERIES, INSTANCE)}

UNKNOWN_PARAMETER_MSG = "QIDO-RS cannot match on {name!r} at this level; the matching keys are listed in extra."
BAD_CONTROL_MSG = "QIDO-RS parameter {name}={value!r} is invalid: {rule}."
FUZZY_MSG = "Fuzzy matching is not supported here; send fuzzymatching=false or leave it out."


@dataclass(frozen=True)
class Matcher:
    """One matching key of a query: the attribute keyword, its kind and the requested value."""

    keyword: str
    kind: str
    value: str

    @property
    def uids(self) -> list[str]:
        return [u.strip() for u in re.split(r"[,\\]", self.value) if u.strip()]

    @property
    def is_wildcard(self) -> bool:
        return self.kind == "text" and ("*" in self.value or "?" in self.value)

    def regex(self) -> str:
        """Return an anchored regular expression equivalent to the wildcard value."""
        return "^" + re.escape(self.value).replace(r"\*", ".*").replace(r"\?", ".") + "$"

    def range(self) -> tuple[str, str]:
        """Return (low, high) of a date or time value; an open end is ``""``."""
        low, sep, high = self.value.partition("-")
        return (low, high) if sep else (low, low)

    def matches(self, value: str) -> bool:
        """Match one attribute value (as a DICOM string) against this key."""
        value = value.strip()
        if self.kind == "uid":
            return value in self.uids
        if self.kind in ("date", "time"):
            low, high = self.range()
            width = len(low or high)
            return bool(value) and (not low or value[:width] >= low) and (not high or value[:width] <= high)
        if self.kind == "integer":
            return value == self.value.strip()
        if self.is_wildcard:
            flags = re.IGNORECASE if self.keyword in PERSON_NAMES else 0
            return re.match(self.regex(), value, flags) is not None
        if self.keyword in PERSON_NAMES:
            return value.lower() == self.value.lower()
        return value == self.value


@dataclass(frozen=True)
class Query:
    """A parsed QIDO-RS query of one level."""

    level: str
    matchers: tuple[Matcher, ...] = ()
    include: frozenset[str] = frozenset()
    include_all: bool = False
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    ignored: tuple[str, ...] = ()  # parameters that are not DICOM attributes: ignored (PS3.18 8.3.4)

    def fields(self) -> tuple[str, ...]:
        """Return the attribute keywords to answer, defaults of this level and those above first."""
        defaults = [k for level in LEVELS_ABOVE[self.level] for k in DEFAULT_FIELDS[level]]
        return tuple(dict.fromkeys([*defaults, *sorted(self.include)]))


def keyword_of(name: str) -> str | None:
    """Return the DICOM keyword for a keyword or an 8-digit hex tag, or ``None``."""
    if re.fullmatch(r"[0-9A-Fa-f]{8}", name):
        return keyword_for_tag(int(name, 16)) or None
    return name if tag_for_keyword(name) is not None else None


def _int(name: str, value: str, *, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise DomainError(BAD_CONTROL_MSG.format(name=name, value=value, rule=f"an integer {low}..{high}"))
    return number


def parse_query(params: list[tuple[str, str]], *, level: str) -> Query:
    """Parse ``(name, value)`` query parameters of a search at ``level`` (``study``/``series``/``instance``)."""
    keys = {k: kind for lvl in LEVELS_ABOVE[level] for k, kind in MATCHING_KEYS[lvl].items()}
    matchers: dict[str, Matcher] = {}
    include: set[str] = set()
    include_all, limit, offset = False, DEFAULT_LIMIT, 0
    ignored: list[str] = []
    for name, value in params:
        if name == "includefield":
            for item in filter(None, (v.strip() for v in value.split(","))):
                if item == "all":
                    include_all = True
                elif (keyword := keyword_of(item)) is not None:
                    include.add(keyword)
                else:
                    raise DomainError(BAD_CONTROL_MSG.format(name=name, value=item, rule="not a DICOM attribute"))
        elif name == "limit":
            limit = _int(name, value, low=1, high=MAX_LIMIT)
        elif name == "offset":
            offset = _int(name, value, low=0, high=10**9)
        elif name == "fuzzymatching":
            if value.lower() != "false":
                raise DomainError(FUZZY_MSG)
        elif (keyword := keyword_of(name)) is None:
            ignored.append(name)
        else:
            if keyword not in keys:
                raise DomainError(UNKNOWN_PARAMETER_MSG.format(name=name),
                                  extra={"matching_keys": sorted(keys), "control": sorted(CONTROL_PARAMETERS)})
            if value.strip():
                matchers[keyword] = Matcher(keyword=keyword, kind=keys[keyword], value=value.strip())
    return Query(level=level, matchers=tuple(matchers.values()), include=frozenset(include),
                 include_all=include_all, limit=limit, offset=offset, ignored=tuple(ignored))


def ignored_warning(names: tuple[str, ...]) -> str:
    """Return the ``Warning`` header value that names ignored query parameters."""
    listed = ", ".join(n.replace('"', "")[:40] for n in names[:10])
    return f'299 - "Query parameters that are not DICOM attributes were ignored: {listed}"'



BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


def answer_dataset(header: Dataset, *, query: Query, computed: dict, retrieve_url: str) -> dict:
    """Return one QIDO-RS answer as DICOM JSON: the query's fields from ``header`` plus computed ones.

    With ``includefield=all`` every non-binary attribute of the header is answered (never
    pixel data or other bulk data). An attribute the header lacks is answered empty.
    """
    answer = Dataset()
    if query.include_all:
        for element in header:
            if element.tag.group > 0x0002 and element.VR not in BINARY_VRS and element.tag != 0x7FE00010:
                answer.add(element)
    for keyword in query.fields():
        if keyword in header:
            answer.add(header[keyword])
        elif keyword not in computed:
            setattr(answer, keyword, None)
    for keyword, value in computed.items():
        setattr(answer, keyword, value)
    answer.InstanceAvailability = "ONLINE"  # (0008,0056)
    answer.RetrieveURL = retrieve_url  # (0008,1190)
    return dicom_json(answer)
