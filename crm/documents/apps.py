from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "crm.documents"
    label = "documents"
    verbose_name = "Documents"

    def ready(self) -> None:
        from crm.documents import signals  # noqa: F401 - connects the receivers
