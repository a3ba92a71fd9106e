from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Identity and access"

    def ready(self) -> None:
        from accounts import audit, schema  # noqa: F401 - schema registers the OpenAPI authentication extension

        audit.connect()
        from accounts import sessions

        sessions.connect()
