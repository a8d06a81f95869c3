"""Monitoring dashboards in chromium: each admin sees their own hospital's confusion matrix only."""
import pytest

from triage.accounts.models import Role
from tests.unit.monitoring.factories import make_case

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# (probability, PCR) per hospital. A at threshold 0.5: TP 2, FN 1, FP 1, TN 3 (+1 inconclusive, excluded).
CASES_A = [(0.9, "positive"), (0.8, "positive"), (0.2, "positive"), (0.7, "negative"), (0.3, "negative"),
           (0.1, "negative"), (0.05, "negative"), (0.95, "inconclusive")]
# B: TP 1, FN 0, FP 2, TN 0.
CASES_B = [(0.9, "positive"), (0.6, "negative"), (0.55, "negative")]


@pytest.fixture(autouse=True)
def _stub_health(page):
    """Answer the dashboard's worker-status request here: no broker round trip outlives the test."""
    body = '{"ok": true, "database": {"ok": true, "detail": "db"}, "broker": {"ok": true, "detail": "b"}, ' \
           '"worker": {"ok": true, "detail": "2 worker(s)"}}'
    page.route("**/api/health/", lambda route: route.fulfill(status=200, content_type="application/json", body=body))


@pytest.fixture
def seeded(hospital_a, hospital_b, make_user):
    admin_a = make_user(hospital=hospital_a, role=Role.ADMIN)
    admin_b = make_user(hospital=hospital_b, role=Role.ADMIN)
    for hospital, cases, signer in ((hospital_a, CASES_A, admin_a), (hospital_b, CASES_B, admin_b)):
        for probability, pcr in cases:
            make_case(hospital=hospital, probability=probability, pcr=pcr, signer=signer)
    return admin_a


def _matrix(page, reader: str = "model") -> dict[str, str]:
    return {cell: page.inner_text(f"#cm-{reader} td[data-cell={cell}]") for cell in ("tp", "fp", "fn", "tn")}


def test_dashboard__hospital_admin_sees_own_matrix_and_not_other_hospital(page, live_server, log_in, seeded,
                                                                         hospital_b, screenshot):
    log_in(seeded)
    page.goto(f"{live_server.url}/monitoring/")
    assert page.locator(".hospital-list a").all_inner_texts() == ["Hospital A"]
    page.click(".hospital-list >> text=Hospital A")
    assert _matrix(page) == {"tp": "2", "fp": "1", "fn": "1", "tn": "3"}
    assert "1 excluded" in page.inner_text("#accuracy")
    # 3 PCR positives, 4 negatives: no point estimate or CI that looks certain
    assert page.inner_text("#metrics-model td[data-metric=sensitivity]") == "too few cases (n = 3)"
    assert page.inner_text("#metrics-model td[data-metric=accuracy]") == "too few cases (n = 3)"
    assert page.inner_text("#kappa").startswith("too few cases")
    assert page.locator("svg.chart").count() >= 3
    screenshot("monitoring-hospital-a")
    response = page.goto(f"{live_server.url}/monitoring/hospitals/{hospital_b.uuid}/")
    assert response.status == 404
    assert page.goto(f"{live_server.url}/monitoring/all/").status == 403


def test_dashboard__platform_admin_sees_both_hospitals_and_pooled_view(page, live_server, log_in, seeded, make_user):
    log_in(make_user(is_platform_admin=True))
    page.goto(f"{live_server.url}/monitoring/")
    assert set(page.locator(".hospital-list a").all_inner_texts()) == {"All hospitals", "Hospital A", "Hospital B"}
    page.click(".hospital-list >> text=Hospital B")
    assert _matrix(page) == {"tp": "1", "fp": "2", "fn": "0", "tn": "0"}
    page.goto(f"{live_server.url}/monitoring/all/")
    assert _matrix(page) == {"tp": "3", "fp": "3", "fn": "1", "tn": "3"}


def test_dashboard__empty_hospital_shows_empty_state(page, live_server, log_in, make_hospital, make_user):
    hospital = make_hospital(name="Empty Hospital", code="empty")
    log_in(make_user(hospital=hospital, role=Role.ADMIN))
    page.goto(f"{live_server.url}/monitoring/hospitals/{hospital.uuid}/")
    assert page.is_visible("#no-outcomes")
    page.wait_for_function("document.getElementById('worker-status').textContent !== 'checking…'")
    assert page.inner_text("#worker-status") == "OK — 2 worker(s)"


def test_pcr_import__check_lists_errors_by_line_then_import_saves(page, live_server, log_in, seeded, hospital_a,
                                                                 tmp_path, screenshot):
    make_case(hospital=hospital_a, probability=0.4, accession_number="NEW-1")
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text("accession_number,result,sample_taken_on\nNEW-1,positive,2026-01-02\nNOPE,positive,2026-01-02\n"
                   "NEW-1,maybe,2026-01-02\n")
    good.write_text("accession_number,result,sample_taken_on\nNEW-1,positive,2026-01-02\n")
    log_in(seeded)
    page.goto(f"{live_server.url}/monitoring/hospitals/{hospital_a.uuid}/pcr-import/")
    page.set_input_files("#file", str(bad))
    page.click("button[value=import]")
    rows = page.locator("#import-report tbody tr")
    assert [rows.nth(i).get_attribute("data-code") for i in range(rows.count())] == [
        "unknown_accession", "duplicate_row", "bad_result"]
    assert rows.nth(0).inner_text().startswith("3")
    screenshot("monitoring-pcr-import-errors")
    page.set_input_files("#file", str(good))
    page.click("button[value=check]")
    assert "1 would be new" in page.inner_text("#import-report")
    assert "good.csv" in page.inner_text("#checked-file")
    page.click("button[value=import]")  # no second pick: the checked file is imported
    assert "1 new" in page.inner_text("#import-report")
    page.goto(f"{live_server.url}/monitoring/hospitals/{hospital_a.uuid}/")
    assert _matrix(page)["tp"] == "2" and "n = 8" in page.inner_text("#accuracy")
