"""API routes (mounted under /api/)."""
from django.urls import path

from triage.decisions import apis

urlpatterns = [
    path("studies/<uuid:study_uuid>/decisions/", apis.StudyDecisionListApi.as_view(), name="study-decisions"),
    path("studies/<uuid:study_uuid>/pcr-outcomes/", apis.StudyPcrOutcomeListApi.as_view(), name="study-pcr-outcomes"),
    path("hospitals/<uuid:hospital_uuid>/decision-rules/", apis.HospitalDecisionRuleApi.as_view(),
         name="hospital-decision-rules"),
]
