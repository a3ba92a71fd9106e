from django.apps import AppConfig


class JobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "advisorportal.jobs"
    label = "jobs"
    verbose_name = "Background jobs"
