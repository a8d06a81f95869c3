from django.urls import path

from triage.studies import views

urlpatterns = [
    path("upload/", views.upload_page, name="study-upload"),
]
