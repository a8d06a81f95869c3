from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "triage.accounts"
    label = "accounts"

    def ready(self) -> None:
        from triage.accounts import signals  # noqa: F401  (connects the login audit receivers)
