from django.apps import AppConfig


class ContactIoConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crm.contact_io"
    label = "contact_io"
    verbose_name = "Contact import and export"

    def ready(self) -> None:
        from advisorportal.jobs.kinds import JobKind, register
        from crm.contact_io import services

        register(JobKind(services.APPLY_JOB, run=services.run_apply, label="Contact import"))
