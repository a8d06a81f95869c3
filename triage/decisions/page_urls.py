"""Page routes (mounted at the site root)."""
from django.urls import path

from triage.decisions import views

urlpatterns = [
    path("hospitals/<uuid:hospital_uuid>/decision-rules/", views.DecisionRulePage.as_view(), name="decision-rules"),
]
