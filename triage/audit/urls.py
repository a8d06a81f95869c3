from django.urls import path

from triage.audit import apis

urlpatterns = [path("events/", apis.AuditEventListApi.as_view(), name="audit-event-list")]
