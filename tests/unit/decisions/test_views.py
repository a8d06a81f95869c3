import pytest

pytestmark = pytest.mark.django_db


def rule_page(client, user, hospital):
    client.force_login(user)
    return client.get(f"/hospitals/{hospital.uuid}/decision-rules/")


def test_decision_rule_page__admin_gets_enabled_form_with_defaults(client, admin_a, hospital_a):
    html = rule_page(client, admin_a, hospital_a).content.decode()
    assert 'data-method="PUT"' in html and "Save thresholds" in html and "<fieldset disabled" not in html
    assert 'value="0.80"' in html and "This hospital uses the defaults." in html


def test_decision_rule_page__clinician_sees_read_only_form(client, clinician, hospital_a):
    html = rule_page(client, clinician, hospital_a).content.decode()
    assert "<fieldset disabled" in html and "Save thresholds" not in html


def test_decision_rule_page__foreign_hospital_is_404(client, admin_a, hospital_b):
    assert rule_page(client, admin_a, hospital_b).status_code == 404
