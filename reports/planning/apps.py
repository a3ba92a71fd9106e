from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "reports.planning"
    label = "planning"
    verbose_name = "Planning tools"

    def ready(self) -> None:
        from datetime import timedelta

        from advisorportal.links import purposes
        from advisorportal.mail import templates
        from reports.planning import services

        templates.register(
            services.ESG_TEMPLATE,
            label="Planning: ESG impact preferences invitation",
            subject="{{ firm.name }} asks what matters to you in investing",
            html="planning/email/esg_invitation.html",
            text="planning/email/esg_invitation.txt",
        )
        # The client ranks on the planning app's own page (not the shared approval page: nothing is
        # approved and no code is needed; the link alone, single-use and expiring, opens it).
        purposes.register(purposes.Purpose(services.ESG_PURPOSE, "ESG impact preferences", expiry=timedelta(days=14)))
