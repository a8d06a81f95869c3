"""The suggested clinical decision from the AI's probability and severity, per hospital rule.

First match wins, thresholds inclusive (``>=``):

1. severity total >= ``critical_severity_threshold``          -> critical care
2. probability >= ``care_probability_threshold``              -> medication / admission
3. severity total >= ``care_severity_threshold``              -> medication / admission
4. probability >= ``test_probability_threshold``              -> nucleic-acid test (and quarantine
                                                                 until its result)
5. otherwise                                                  -> discharge

Once a radiologist has signed the report, their label replaces the AI's probability: a signed
COVID-19 read counts as probability 1, any other signed read as 0, and the reason says so. The
severity rules still apply (a signed non-COVID read with extensive lesions is not sent home).

Defaults (``DecisionRule.DEFAULTS``): care probability 0.80, test probability 0.30, care
severity 8 and critical severity 18 of 30. They are a starting point for each hospital's
administrators, not clinical guidance: the suggestion supports, and never replaces, the
clinician's decision.
"""
from dataclasses import dataclass

from triage.decisions.models import DecisionKind, DecisionRule


@dataclass(frozen=True)
class Suggestion:
    kind: str
    reason: str
    also: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return DecisionKind(self.kind).label


def suggest_decision(*, rule: DecisionRule, covid_probability: float, severity_total: int | None,
                     signed_label: str = "", signed_is_covid: bool = False) -> Suggestion:
    """Return the suggested decision and a sentence explaining which threshold decided it.

    ``signed_label`` (the radiologist's signed label, "" when unsigned) replaces the probability by
    1 or 0 according to ``signed_is_covid``.
    """
    if signed_label:
        p = 1.0 if signed_is_covid else 0.0
        basis = f"the radiologist signed {signed_label}"
        above = below = basis
    else:
        p = covid_probability
        above = f"probability {p:.2f} ≥ {{threshold:.2f}}"
        below = f"probability {p:.2f} < {{threshold:.2f}}"
    if severity_total is not None and severity_total >= rule.critical_severity_threshold:
        return Suggestion(DecisionKind.CARE_CRITICAL, f"Suggested because severity score {severity_total} ≥ "
                                                      f"{rule.critical_severity_threshold}.")
    if p >= rule.care_probability_threshold:
        return Suggestion(DecisionKind.CARE_MEDICATION,
                          f"Suggested because {above.format(threshold=rule.care_probability_threshold)}.")
    if severity_total is not None and severity_total >= rule.care_severity_threshold:
        return Suggestion(DecisionKind.CARE_MEDICATION, f"Suggested because severity score {severity_total} ≥ "
                                                        f"{rule.care_severity_threshold}.")
    if p >= rule.test_probability_threshold:
        return Suggestion(DecisionKind.NUCLEIC_ACID_TEST,
                          f"Suggested because {above.format(threshold=rule.test_probability_threshold)}: "
                          f"confirm with RT-PCR and quarantine until the result.",
                          also=(DecisionKind.QUARANTINE,))
    severity = "" if severity_total is None else f" and severity score {severity_total} < {rule.care_severity_threshold}"
    return Suggestion(DecisionKind.DISCHARGE,
                      f"Suggested because {below.format(threshold=rule.test_probability_threshold)}{severity}.")
