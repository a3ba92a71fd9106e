from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Identity and access"

    def ready(self) -> None:
        from accounts import audit, schema  # noqa: F401 - schema registers the OpenAPI authentication extension

        audit.connect()
        from advisorportal import auditing

        auditing.register_recorder(audit.record)  # the floor's kits (links) record through it
        from accounts import authentication, sessions

        authentication.connect()
        sessions.connect()
