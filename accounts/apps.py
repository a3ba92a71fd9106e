from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Identity and access"

    def ready(self) -> None:
        from accounts import audit, schema  # noqa: F401 - schema registers the OpenAPI authentication extension

        audit.connect()
        from advisorportal import auditing

        auditing.register_recorders(single=audit.record, bulk=audit.record_bulk)  # the floor's kits record through it
        from accounts import selectors
        from accounts.models import Firm
        from advisorportal.mail import branding

        # Emails are white-branded without the floor importing identity.
        branding.register(lambda firm_id: selectors.firm_branding(firm=Firm.objects.get(pk=firm_id)))
        from accounts import authentication, sessions

        authentication.connect()
        sessions.connect()
