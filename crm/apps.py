from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"

    def ready(self) -> None:
        from crm import notifications, signals  # noqa: F401 - connects the receivers

        notifications.register()  # contacts' scope and names for the notifications, category labels
