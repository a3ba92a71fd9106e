from django.apps import AppConfig, apps

REMINDER_TEMPLATE = "agenda_calendar.reminder"


class AgendaCalendarConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crm.agenda.calendar"
    label = "agenda_calendar"
    verbose_name = "Calendar"

    def ready(self) -> None:
        if apps.is_installed("advisorportal.mail"):
            from advisorportal.mail import templates

            templates.register(
                REMINDER_TEMPLATE,
                label="Calendar event reminder",
                subject="Reminder: {{ event_title }} ({{ event_when }})",
                html="agenda_calendar/email/reminder.html",
                text="agenda_calendar/email/reminder.txt",
            )
