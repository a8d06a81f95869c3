import pydicom
import pytest

from triage.core.exceptions import DomainError
from triage.gateway import qido
from triage.gateway.qido import Matcher, parse_query


@pytest.mark.parametrize("kind, pattern, value, expected", [
    ("uid", "1.2.3,1.2.4", "1.2.4", True),
    ("uid", "1.2.3\\1.2.4", "1.2.5", False),
    ("text", "AB*", "ABC", True),
    ("text", "A?C", "ABC", True),
    ("text", "A?C", "ABBC", False),
    ("text", "abc", "ABC", False),  # text is case-sensitive
    ("date", "20200101-20200131", "20200115", True),
    ("date", "-20191231", "20200115", False),
    ("date", "20200101-", "", False),
    ("time", "1000-1100", "101500.123", True),
    ("integer", "7", "7", True),
])
def test_matcher_matches__follows_dicom_matching_rules(kind, pattern, value, expected):
    assert Matcher(keyword="StudyDate" if kind == "date" else "X", kind=kind, value=pattern).matches(value) is expected


def test_matcher_matches__person_names_ignore_case():
    assert Matcher(keyword="PatientName", kind="text", value="doe^*").matches("DOE^JOHN")


def test_parse_query__accepts_keywords_tags_and_control_parameters():
    query = parse_query([("00100020", "P1"), ("PatientName", ""), ("includefield", "00080070,StudyTime"),
                         ("includefield", "Manufacturer"), ("limit", "5"), ("offset", "10"),
                         ("fuzzymatching", "false")], level=qido.SERIES)

    assert [(m.keyword, m.value) for m in query.matchers] == [("PatientID", "P1")]  # empty value: universal
    assert query.include == {"Manufacturer", "StudyTime"}
    assert (query.limit, query.offset) == (5, 10)
    assert {"StudyInstanceUID", "SeriesInstanceUID"} <= set(query.fields())


@pytest.mark.parametrize("params, message", [
    ([("SeriesInstanceUID", "1.2")], "cannot match on 'SeriesInstanceUID'"),  # a series key in a study search
    ([("limit", "0")], "an integer 1..1000"),
    ([("includefield", "NotAnAttribute")], "not a DICOM attribute"),
    ([("fuzzymatching", "true")], "Fuzzy matching is not supported"),
])
def test_parse_query__bad_parameter_names_the_rule(params, message):
    with pytest.raises(DomainError, match=message):
        parse_query(params, level=qido.STUDY)


def test_answer_dataset__defaults_included_fields_and_computed_values():
    header = pydicom.Dataset()
    header.PatientID, header.StudyInstanceUID, header.Manufacturer = "P1", "1.2.3", "ACME"
    header.PixelData, header.BitsAllocated = b"\0\0", 16
    query = parse_query([("includefield", "Manufacturer")], level=qido.STUDY)

    answer = qido.answer_dataset(header, query=query, computed={"NumberOfStudyRelatedInstances": 3},
                                 retrieve_url="http://x/dicomweb/studies/1.2.3")

    assert answer["00100020"] == {"vr": "LO", "Value": ["P1"]}
    assert answer["00080070"]["Value"] == ["ACME"]
    assert answer["00201208"]["Value"] == [3]
    assert answer["00080020"] == {"vr": "DA"}  # a default the header lacks: present, empty
    assert "7FE00010" not in qido.answer_dataset(header, query=parse_query([("includefield", "all")],
                                                                           level=qido.STUDY),
                                                 computed={}, retrieve_url="u")


def test_parse_query__ignores_parameters_that_are_not_dicom_attributes():
    query = parse_query([("_", "1718"), ("PatientID", "P1")], level=qido.STUDY)

    assert query.ignored == ("_",)
    assert "_" in qido.ignored_warning(query.ignored)
