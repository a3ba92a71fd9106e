from django.apps import AppConfig


class ContactIoConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crm.contact_io"
    label = "contact_io"
    verbose_name = "Contact import and export"
