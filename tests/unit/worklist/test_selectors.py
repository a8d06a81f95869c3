from datetime import date, timedelta

import pytest

from tests.unit.worklist.conftest import NOW
from tests.unit.worklist.factories import make_study
from triage.accounts.models import Membership, Role
from triage.studies.models import Study
from triage.worklist.selectors import PriorityReason, WorklistFilters, worklist_page, worklist_version
from triage.worklist.services import refresh_worklist_entry

pytestmark = pytest.mark.django_db
ALL = WorklistFilters(reviewed=None)


def minutes_ago(minutes: float):
    return NOW - timedelta(minutes=minutes)


def order(user, filters=ALL, **kwargs):
    return [row.study.accession_number for row in worklist_page(user=user, filters=filters, now=NOW, **kwargs).rows]


def test_worklist_page__hides_other_hospitals(radiologist, hospital_a, hospital_b):
    make_study(hospital=hospital_a, received_at=minutes_ago(5), probability=0.2, accession="MINE")
    make_study(hospital=hospital_b, received_at=minutes_ago(5), probability=0.9, accession="THEIRS")
    page = worklist_page(user=radiologist, filters=ALL, now=NOW)
    assert [r.study.accession_number for r in page.rows] == ["MINE"]
    assert page.count == 1


def test_worklist_page__foreign_hospital_filter_is_empty(radiologist, hospital_b):
    make_study(hospital=hospital_b, received_at=minutes_ago(5), probability=0.9)
    assert order(radiologist, WorklistFilters(reviewed=None, hospital_uuid=hospital_b.uuid)) == []


def test_worklist_page__platform_admin_sees_every_hospital(make_user, hospital_a, hospital_b):
    make_study(hospital=hospital_a, received_at=minutes_ago(5), probability=0.2, accession="A")
    make_study(hospital=hospital_b, received_at=minutes_ago(5), probability=0.9, accession="B")
    assert order(make_user(is_platform_admin=True)) == ["B", "A"]


def test_worklist_page__sorts_by_probability_highest_first(radiologist, hospital_a):
    for accession, p in [("LOW", 0.1), ("HIGH", 0.95), ("MID", 0.5)]:
        make_study(hospital=hospital_a, received_at=minutes_ago(10), probability=p, accession=accession)
    assert order(radiologist) == ["HIGH", "MID", "LOW"]


def test_worklist_page__overdue_studies_rise_above_probability_oldest_first(radiologist, hospital_a):
    make_study(hospital=hospital_a, received_at=minutes_ago(10), probability=0.99, accession="FRESH-HIGH")
    make_study(hospital=hospital_a, received_at=minutes_ago(61), probability=0.01, accession="OVERDUE-NEWER")
    make_study(hospital=hospital_a, received_at=minutes_ago(240), probability=0.02, accession="OVERDUE-OLDEST")
    make_study(hospital=hospital_a, received_at=minutes_ago(59), probability=0.03, accession="NEARLY")
    page = worklist_page(user=radiologist, filters=ALL, now=NOW)
    assert [r.study.accession_number for r in page.rows] == ["OVERDUE-OLDEST", "OVERDUE-NEWER", "FRESH-HIGH", "NEARLY"]
    assert [r.priority_reason for r in page.rows] == [PriorityReason.OVERDUE] * 2 + [PriorityReason.PROBABILITY] * 2
    assert page.overdue_count == 2


def test_worklist_page__uses_each_hospitals_own_wait_cap(make_user, make_hospital):
    strict, relaxed = make_hospital(max_wait_minutes=15), make_hospital(max_wait_minutes=120)
    user = make_user(hospital=strict, role=Role.RADIOLOGIST)
    Membership.objects.create(user=user, hospital=relaxed, role=Role.RADIOLOGIST)
    make_study(hospital=strict, received_at=minutes_ago(20), probability=0.1, accession="STRICT-20MIN")
    make_study(hospital=relaxed, received_at=minutes_ago(100), probability=0.2, accession="RELAXED-100MIN")
    make_study(hospital=relaxed, received_at=minutes_ago(130), probability=0.3, accession="RELAXED-130MIN")
    assert order(user) == ["RELAXED-130MIN", "STRICT-20MIN", "RELAXED-100MIN"]


def test_worklist_page__unanalysed_studies_after_analysed_unless_overdue(radiologist, hospital_a):
    make_study(hospital=hospital_a, received_at=minutes_ago(30), status=Study.Status.PROCESSING, accession="PROC")
    make_study(hospital=hospital_a, received_at=minutes_ago(20), status=Study.Status.QUEUED, accession="QUEUED")
    make_study(hospital=hospital_a, received_at=minutes_ago(10), probability=0.05, accession="READY-LOW")
    make_study(hospital=hospital_a, received_at=minutes_ago(90), status=Study.Status.FAILED, accession="FAILED-OLD")
    page = worklist_page(user=radiologist, filters=ALL, now=NOW)
    assert [r.study.accession_number for r in page.rows] == ["FAILED-OLD", "READY-LOW", "PROC", "QUEUED"]
    assert [r.state for r in page.rows] == ["failed", "ready", "processing", "pending"]
    assert page.rows[2].priority_reason == PriorityReason.NOT_ANALYSED


def test_worklist_page__signed_studies_are_never_overdue(radiologist, hospital_a):
    signed = make_study(hospital=hospital_a, received_at=minutes_ago(500), probability=0.1, accession="SIGNED")
    make_study(hospital=hospital_a, received_at=minutes_ago(5), probability=0.5, accession="OPEN")
    type(signed.worklist_entry).objects.filter(study=signed).update(reviewed=True)
    assert order(radiologist) == ["OPEN", "SIGNED"]
    assert order(radiologist, WorklistFilters()) == ["OPEN"]  # default: unreviewed only
    assert order(radiologist, WorklistFilters(reviewed=True)) == ["SIGNED"]


@pytest.mark.parametrize("filters, expected", [
    (WorklistFilters(reviewed=None, state="ready"), ["HIGH", "LOW"]),
    (WorklistFilters(reviewed=None, state="pending"), ["PENDING"]),
    (WorklistFilters(reviewed=None, label="pneumonia"), ["LOW"]),
    (WorklistFilters(reviewed=None, search="ACC-HIGH"), ["HIGH"]),
    (WorklistFilters(reviewed=None, search="PID-LOW"), ["LOW"]),
    (WorklistFilters(reviewed=None, received_from=date(2026, 3, 2)), ["HIGH", "PENDING"]),
    (WorklistFilters(reviewed=None, received_to=date(2026, 3, 1)), ["LOW"]),
])
def test_worklist_page__filters(radiologist, hospital_a, filters, expected):
    make_study(hospital=hospital_a, received_at=minutes_ago(10), probability=0.9, label="covid19",
               accession="ACC-HIGH")
    make_study(hospital=hospital_a, received_at=NOW - timedelta(days=1, minutes=30), probability=0.2,
               label="pneumonia", accession="ACC-LOW", patient_id="PID-LOW")
    make_study(hospital=hospital_a, received_at=minutes_ago(5), status=Study.Status.RECEIVED, accession="ACC-PENDING")
    filters_result = [a.removeprefix("ACC-") for a in order(radiologist, filters)]
    # The day-old study is overdue, so it leads whenever it matches.
    assert sorted(filters_result) == sorted(expected)
    if "LOW" in expected:
        assert filters_result[0] == "LOW"


def test_worklist_page__pages_run_across_the_overdue_boundary(radiologist, hospital_a):
    for i in range(3):
        make_study(hospital=hospital_a, received_at=minutes_ago(300 - i), probability=0.1, accession=f"O{i}")
    for i in range(4):
        make_study(hospital=hospital_a, received_at=minutes_ago(5), probability=0.9 - i / 10, accession=f"P{i}")
    pages = [order(radiologist, page=n, page_size=2) for n in (1, 2, 3, 4)]
    assert pages == [["O0", "O1"], ["O2", "P0"], ["P1", "P2"], ["P3"]]
    last = worklist_page(user=radiologist, filters=ALL, page=4, page_size=2, now=NOW)
    assert (last.count, last.page_count, last.has_next) == (7, 4, False)


def test_worklist_page__page_past_the_end_is_empty(radiologist, hospital_a):
    make_study(hospital=hospital_a, received_at=minutes_ago(5), probability=0.5)
    assert order(radiologist, page=3, page_size=2) == []


def test_worklist_version__changes_when_a_visible_study_changes(radiologist, hospital_a, hospital_b):
    study = make_study(hospital=hospital_a, received_at=minutes_ago(5), status=Study.Status.PROCESSING)
    before = worklist_version(user=radiologist, now=NOW)
    make_study(hospital=hospital_b, received_at=minutes_ago(5), probability=0.5)
    assert worklist_version(user=radiologist, now=NOW) == before
    Study.objects.filter(pk=study.pk).update(status=Study.Status.READY)
    refresh_worklist_entry(study=study)
    assert worklist_version(user=radiologist, now=NOW) != before


def test_worklist_version__changes_every_minute(radiologist):
    assert worklist_version(user=radiologist, now=NOW) != worklist_version(user=radiologist, now=minutes_ago(-1))


def test_worklist_page__counts_stop_at_the_limit_but_pages_stay_right(radiologist, hospital_a, monkeypatch):
    monkeypatch.setattr("triage.worklist.selectors.COUNT_LIMIT", 3)
    make_study(hospital=hospital_a, received_at=minutes_ago(300), probability=0.1, accession="O0")
    for i in range(4):
        make_study(hospital=hospital_a, received_at=minutes_ago(5), probability=0.9 - i / 10, accession=f"P{i}")
    first = worklist_page(user=radiologist, filters=ALL, page=1, page_size=2, now=NOW)
    assert (first.count, first.count_is_exact, first.has_next) == (3, False, True)
    assert order(radiologist, page=3, page_size=2) == ["P3"]


def test_worklist_page__not_applicable_studies_wait_in_time_order_and_say_why(radiologist, hospital_a):
    from triage.results.models import Result

    make_study(hospital=hospital_a, received_at=minutes_ago(10), probability=0.05, accession="READY-LOW")
    for accession, age in (("NA-NEWER", 20), ("NA-OLDER", 40)):
        study = make_study(hospital=hospital_a, received_at=minutes_ago(age), probability=0.99, accession=accession)
        Result.objects.filter(study=study).update(applicable=False, not_applicable_reasons=["not an axial series"])
        refresh_worklist_entry(study=study)
    page = worklist_page(user=radiologist, filters=ALL, now=NOW)
    # A 0.99 that means nothing must not outrank a real 0.05: not-applicable studies sort by waiting time.
    assert [r.study.accession_number for r in page.rows] == ["READY-LOW", "NA-OLDER", "NA-NEWER"]
    assert [r.priority_reason for r in page.rows[1:]] == [PriorityReason.NOT_APPLICABLE] * 2
    assert page.rows[1].entry.not_applicable_reason == "not an axial series" and page.rows[1].entry.covid_probability is None
