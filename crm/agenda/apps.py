from django.apps import AppConfig, apps

REMINDER_TEMPLATE = "agenda.task_reminder"
NOTIFY_CATEGORY = "agenda.task"


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
        if apps.is_installed("advisorportal.mail"):
            from crm.agenda import bulk_email

            register(JobKind(bulk_email.KIND, run=bulk_email.run_job, label="Bulk email", atomic=False))
        post_save.connect(services.on_firm_saved, sender=Firm, dispatch_uid="agenda-default-templates")
        if apps.is_installed("advisorportal.notifications"):
            from advisorportal.notifications import categories

            categories.register(NOTIFY_CATEGORY, "Task or workflow step")
        if apps.is_installed("advisorportal.mail"):
            from advisorportal.mail import templates

            templates.register(
                REMINDER_TEMPLATE,
                label="Task reminder",
                subject="Reminder: {{ task_title }} (due {{ task_due }})",
                html="agenda/email/task_reminder.html",
                text="agenda/email/task_reminder.txt",
            )
