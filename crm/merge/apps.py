from django.apps import AppConfig


class ContactMergeConfig(AppConfig):
    name = "crm.merge"
    label = "contact_merge"
    verbose_name = "Contact merge"
