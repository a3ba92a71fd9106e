from django.apps import AppConfig


class MailConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "advisorportal.mail"
    label = "mail"
    verbose_name = "Outgoing email"

    def ready(self) -> None:
        from advisorportal.mail import templates

        templates.register(
            "mail.generic",
            label="A message to a contact",
            subject="{{ subject }}",
            html="mail/email/generic.html",
            text="mail/email/generic.txt",
        )
