from django.apps import AppConfig


class AgendaCalendarConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crm.agenda.calendar"
    label = "agenda_calendar"
    verbose_name = "Calendar"
