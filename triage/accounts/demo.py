"""Demo accounts: two hospitals, one user per role per hospital, one platform admin."""
import secrets
from dataclasses import dataclass

from django.db import transaction

from triage.accounts.models import Hospital, Role, User
from triage.accounts.services import grant_membership

DEMO_HOSPITALS = (("North General Hospital", "north"), ("South University Hospital", "south"))


@dataclass(frozen=True)
class DemoCredential:
    username: str
    password: str
    description: str


def demo_password() -> str:
    return secrets.token_urlsafe(12)


def set_demo_user(*, username: str, password: str, is_platform_admin: bool = False) -> User:
    user, _ = User.objects.get_or_create(username=username)
    user.is_platform_admin = is_platform_admin
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def seed_demo_accounts() -> tuple[list[Hospital], list[DemoCredential]]:
    """Create or refresh the demo accounts; every run issues fresh random passwords."""
    hospitals, credentials = [], []
    for name, code in DEMO_HOSPITALS:
        hospital, _ = Hospital.objects.get_or_create(code=code, defaults={"name": name})
        hospitals.append(hospital)
        for role in Role:
            username = f"{role.value}.{code}"
            password = demo_password()
            user = set_demo_user(username=username, password=password)
            grant_membership(actor=None, hospital=hospital, user=user, role=role)
            credentials.append(DemoCredential(username, password, f"{role.label}, {hospital.name}"))
    password = demo_password()
    set_demo_user(username="platform.admin", password=password, is_platform_admin=True)
    credentials.append(DemoCredential("platform.admin", password, "Platform administrator, all hospitals"))
    return hospitals, credentials
