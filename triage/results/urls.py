from django.urls import path

from triage.results import apis

urlpatterns = [
    path("", apis.ModelVersionListApi.as_view(), name="model-version-list"),
    path("candidates/", apis.CandidateCollectionApi.as_view(), name="candidate-list"),
    path("candidates/<uuid:candidate_uuid>/end/", apis.CandidateEndApi.as_view(), name="candidate-end"),
]
