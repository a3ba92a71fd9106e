from django.apps import AppConfig


class MailConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "advisorportal.mail"
    label = "mail"
    verbose_name = "Outgoing email"

    def ready(self) -> None:
        from anymail.signals import tracking

        from advisorportal.mail import delivery, templates

        tracking.connect(delivery.on_tracking, dispatch_uid="advisorportal.mail.delivery")

        templates.register(
            "mail.generic",
            label="A message to a contact",
            subject="{{ subject }}",
            html="mail/email/generic.html",
            text="mail/email/generic.txt",
        )
