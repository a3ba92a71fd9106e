from django.apps import AppConfig


class ShellConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "advisorportal.shell"
    label = "shell"
    verbose_name = "Dashboard"
