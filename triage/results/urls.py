from django.urls import path

from triage.results import apis

urlpatterns = [
    path("", apis.ModelVersionListApi.as_view(), name="model-version-list"),
]
