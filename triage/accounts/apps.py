from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "triage.accounts"
    label = "accounts"

    def ready(self) -> None:
        from triage.accounts import schema, signals  # noqa: F401  (registers the schema extension, audit receivers)
