"""The three default workflow templates for every firm that existed before the agenda (new firms
get them when they are created: ``crm.agenda.services.on_firm_saved``)."""

from django.db import migrations


def add_defaults(apps, schema_editor):
    from advisorportal.tenancy.context import firm_scope
    from crm.agenda.defaults import create_defaults

    db = schema_editor.connection.alias
    Firm = apps.get_model("accounts", "Firm")
    template_model = apps.get_model("agenda", "WorkflowTemplate")
    step_model = apps.get_model("agenda", "TemplateStep")
    for firm_id in Firm.objects.using(db).values_list("pk", flat=True):
        with firm_scope(firm_id):
            create_defaults(firm_id=firm_id, template_model=template_model, step_model=step_model, using=db)


class Migration(migrations.Migration):
    dependencies = [("agenda", "0001_initial")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
