from django.apps import AppConfig


class LinksConfig(AppConfig):
    name = "advisorportal.links"
    label = "links"
    verbose_name = "Emailed links"

    def ready(self) -> None:
        from advisorportal.mail import templates

        templates.register(
            "links.one_time_code",
            label="One-time code",
            subject="Your code: {{ code }}",
            html="links/email/code.html",
            text="links/email/code.txt",
        )
