# Applying moves onto the jobs kit: the import's own status becomes its stage (uploaded, previewed,
# applied, undone) and the apply job holds applying, failed, cancelled, progress and error.

import advisorportal.tenancy.constraints
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

WORKER_STOPPED = "The worker stopped while this job was running; nothing was applied. Retry."


def to_jobs(apps, schema_editor):
    """Imports that were applying (stuck: their worker is gone) or failed get a failed apply job."""
    from advisorportal.tenancy.context import firm_scope

    db = schema_editor.connection.alias
    Firm = apps.get_model("accounts", "Firm")
    ContactImport = apps.get_model("contact_io", "ContactImport")
    Job = apps.get_model("jobs", "Job")
    for firm_id in Firm.objects.using(db).values_list("pk", flat=True):
        with firm_scope(firm_id):  # row-level security applies to the owner too (FORCE)
            imports = ContactImport.objects.using(db).filter(firm_id=firm_id)
            imports.filter(stage="done").update(stage="applied")
            for row in imports.filter(stage__in=["applying", "failed"]):
                row.apply_job = Job.objects.using(db).create(
                    firm_id=firm_id, kind="contact_import.apply", status="failed", retryable=True,
                    error=(row.error if row.stage == "failed" and row.error else WORKER_STOPPED)[:2000],
                    total=row.created_count + row.updated_count, created_by_id=row.created_by_id,
                    finished_at=timezone.now(),
                )
                row.stage = "previewed"
                row.save(update_fields=["apply_job", "stage"])


def from_jobs(apps, schema_editor):
    from advisorportal.tenancy.context import firm_scope

    db = schema_editor.connection.alias
    Firm = apps.get_model("accounts", "Firm")
    ContactImport = apps.get_model("contact_io", "ContactImport")
    for firm_id in Firm.objects.using(db).values_list("pk", flat=True):
        with firm_scope(firm_id):
            imports = ContactImport.objects.using(db).filter(firm_id=firm_id)
            imports.filter(stage="applied").update(stage="done")
            for row in imports.filter(stage="previewed", apply_job__isnull=False).select_related("apply_job"):
                status = {"queued": "applying", "running": "applying", "done": "done"}.get(row.apply_job.status, "failed")
                imports.filter(pk=row.pk).update(stage=status, error=row.apply_job.error)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0010_user_identity_function'),
        ('contact_io', '0003_same_firm_links_to_users'),
        ('jobs', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='contactimport',
            name='apply_job',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='jobs.job'),
        ),
        migrations.RenameField(model_name='contactimport', old_name='status', new_name='stage'),
        migrations.RunPython(to_jobs, from_jobs),
        migrations.AlterField(
            model_name='contactimport',
            name='stage',
            field=models.CharField(choices=[('uploaded', 'Uploaded'), ('previewed', 'Previewed'), ('applied', 'Applied'), ('undone', 'Undone')], default='uploaded', max_length=12),
        ),
        migrations.RemoveField(model_name='contactimport', name='error'),
        migrations.RemoveField(model_name='contactimport', name='progress'),
        migrations.AddConstraint(
            model_name='contactimport',
            constraint=models.UniqueConstraint(fields=('firm', 'apply_job'), name='contact_io_import_job_uniq'),
        ),
        migrations.AddConstraint(
            model_name='contactimport',
            constraint=advisorportal.tenancy.constraints.SameFirmForeignKey(field='apply_job', name='firm_fk_contact_io_contactimport_apply_job_id'),
        ),
    ]
