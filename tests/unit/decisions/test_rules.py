import pytest

from triage.decisions.models import DecisionKind, DecisionRule
from triage.decisions.rules import suggest_decision

RULE = DecisionRule(care_probability_threshold=0.80, test_probability_threshold=0.30, care_severity_threshold=8,
                    critical_severity_threshold=18)


@pytest.mark.parametrize("probability, severity, expected", [
    (0.10, 18, DecisionKind.CARE_CRITICAL),      # critical severity wins over a low probability
    (0.95, 17, DecisionKind.CARE_MEDICATION),
    (0.80, 0, DecisionKind.CARE_MEDICATION),     # at the care probability threshold
    (0.7999, 8, DecisionKind.CARE_MEDICATION),   # at the care severity threshold
    (0.7999, 7, DecisionKind.NUCLEIC_ACID_TEST),
    (0.30, 0, DecisionKind.NUCLEIC_ACID_TEST),   # at the test threshold
    (0.2999, 7, DecisionKind.DISCHARGE),
    (0.2999, None, DecisionKind.DISCHARGE),      # no quantification: probability alone
    (0.85, None, DecisionKind.CARE_MEDICATION),
])
def test_suggest_decision__thresholds_are_inclusive_first_match_wins(probability, severity, expected):
    assert suggest_decision(rule=RULE, covid_probability=probability, severity_total=severity).kind == expected


def test_suggest_decision__explains_the_deciding_threshold():
    assert suggest_decision(rule=RULE, covid_probability=0.91, severity_total=3).reason == (
        "Suggested because probability 0.91 ≥ 0.80.")
    assert suggest_decision(rule=RULE, covid_probability=0.5, severity_total=20).reason == (
        "Suggested because severity score 20 ≥ 18.")


def test_suggest_decision__test_suggestion_also_asks_for_quarantine():
    suggestion = suggest_decision(rule=RULE, covid_probability=0.45, severity_total=2)
    assert suggestion.also == (DecisionKind.QUARANTINE,)
    assert "quarantine" in suggestion.reason


def test_decision_rule__defaults_match_documented_values():
    rule = DecisionRule()
    assert (rule.care_probability_threshold, rule.test_probability_threshold, rule.care_severity_threshold,
            rule.critical_severity_threshold) == (0.80, 0.30, 8, 18)


@pytest.mark.parametrize("probability, severity, signed, is_covid, expected", [
    (0.95, 0, "normal", False, DecisionKind.DISCHARGE),          # the signed read overrides a high probability
    (0.95, 9, "pneumonia", False, DecisionKind.CARE_MEDICATION),  # severity rules still apply
    (0.05, 0, "covid19", True, DecisionKind.CARE_MEDICATION),     # a signed COVID-19 read counts as certain
    (0.05, 18, "normal", False, DecisionKind.CARE_CRITICAL),
])
def test_suggest_decision__signed_read_replaces_the_probability(probability, severity, signed, is_covid, expected):
    suggestion = suggest_decision(rule=RULE, covid_probability=probability, severity_total=severity,
                                  signed_label=signed, signed_is_covid=is_covid)
    assert suggestion.kind == expected


def test_suggest_decision__says_when_the_signed_read_decided():
    assert suggest_decision(rule=RULE, covid_probability=0.95, severity_total=0, signed_label="normal").reason == (
        "Suggested because the radiologist signed normal and severity score 0 < 8.")
    assert suggest_decision(rule=RULE, covid_probability=0.1, severity_total=0, signed_label="covid19",
                            signed_is_covid=True).reason == "Suggested because the radiologist signed covid19."
