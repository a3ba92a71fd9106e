from django.apps import AppConfig


class ContactMergeConfig(AppConfig):
    name = "contact_merge"
    label = "contact_merge"
    verbose_name = "Contact merge and client information PDF"
