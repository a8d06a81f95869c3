from django.db import models


class AccountAction(models.TextChoices):
    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGOUT = "auth.logout"
    HOSPITAL_CREATED = "hospital.created"
    HOSPITAL_UPDATED = "hospital.updated"
    USER_CREATED = "user.created"
    USER_INVITED = "user.invited"
    PASSWORD_SET = "user.password_set"
    USER_DEACTIVATED = "user.deactivated"
    MEMBERSHIP_GRANTED = "membership.granted"
    MEMBERSHIP_REVOKED = "membership.revoked"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"
