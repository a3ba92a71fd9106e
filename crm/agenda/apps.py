from django.apps import AppConfig


class AgendaConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crm.agenda"
    label = "agenda"
    verbose_name = "Agenda"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from accounts.models import Firm
        from advisorportal.jobs.kinds import JobKind, register
        from crm.agenda import services

        register(JobKind(services.BULK_START_KIND, run=services.run_bulk_start, label="Workflow start"))
        post_save.connect(services.on_firm_saved, sender=Firm, dispatch_uid="agenda-default-templates")
