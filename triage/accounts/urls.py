from django.urls import path

from triage.accounts import apis

urlpatterns = [
    path("me/", apis.MeApi.as_view(), name="me"),
    path("hospitals/", apis.HospitalListApi.as_view(), name="hospital-list"),
    path("hospitals/<uuid:hospital_uuid>/", apis.HospitalDetailApi.as_view(), name="hospital-detail"),
    path("hospitals/<uuid:hospital_uuid>/members/", apis.HospitalMemberListApi.as_view(), name="hospital-members"),
    path("hospitals/<uuid:hospital_uuid>/members/<uuid:membership_uuid>/", apis.HospitalMemberDeleteApi.as_view(),
         name="hospital-member-delete"),
    path("tokens/", apis.TokenListApi.as_view(), name="token-list"),
    path("tokens/<uuid:token_uuid>/", apis.TokenRevokeApi.as_view(), name="token-revoke"),
    path("audit/events/", apis.AuditEventListApi.as_view(), name="audit-event-list"),
]
