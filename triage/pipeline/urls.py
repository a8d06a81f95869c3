from django.urls import path

from triage.pipeline import apis

urlpatterns = [
    path("studies/", apis.StudyCollectionApi.as_view(), name="study-list"),
    path("studies/<uuid:study_uuid>/reprocess/", apis.StudyReprocessApi.as_view(), name="study-reprocess"),
    path("models/activate/", apis.ModelVersionActivateApi.as_view(), name="model-version-activate"),
    path("models/candidates/<uuid:candidate_uuid>/promote/", apis.CandidatePromoteApi.as_view(),
         name="candidate-promote"),
]
