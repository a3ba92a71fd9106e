# Custodian imports move onto the jobs kit: status, progress (rows done), timing and the report
# move to the import's background job.

import advisorportal.tenancy.constraints
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

WORKER_STOPPED = "The worker stopped while this job was running; nothing was applied. Retry."
NOTHING_STORED = "Nothing from this file was stored. Correct the rows in the report and upload it again."


def to_jobs(apps, schema_editor):
    """A job per import; one left queued or half-way (its worker is gone) is failed, retryable."""
    from advisorportal.tenancy.context import firm_scope

    db = schema_editor.connection.alias
    Firm = apps.get_model("accounts", "Firm")
    ImportJob = apps.get_model("imports", "ImportJob")
    Job = apps.get_model("jobs", "Job")
    for firm_id in Firm.objects.using(db).values_list("pk", flat=True):
        with firm_scope(firm_id):  # row-level security applies to the owner too (FORCE)
            for row in ImportJob.objects.using(db).filter(firm_id=firm_id, background_job__isnull=True):
                stopped = row.status not in ("done", "failed")
                job = Job.objects.using(db).create(
                    firm_id=firm_id, kind="custodian_import", status="failed" if stopped else row.status,
                    error=WORKER_STOPPED if stopped else (NOTHING_STORED if row.status == "failed" else ""),
                    retryable=stopped, done=row.rows_done, total=row.rows_total, issues=row.report,
                    created_by_id=row.created_by_id, started_at=row.started_at,
                    finished_at=row.finished_at or (timezone.now() if stopped else None),
                )
                Job.objects.using(db).filter(pk=job.pk).update(created_at=row.created_at, queued_at=row.created_at)
                row.background_job = job
                row.save(update_fields=["background_job"])


def from_jobs(apps, schema_editor):
    from advisorportal.tenancy.context import firm_scope

    db = schema_editor.connection.alias
    Firm = apps.get_model("accounts", "Firm")
    ImportJob = apps.get_model("imports", "ImportJob")
    for firm_id in Firm.objects.using(db).values_list("pk", flat=True):
        with firm_scope(firm_id):
            for row in ImportJob.objects.using(db).filter(firm_id=firm_id).select_related("background_job"):
                job = row.background_job
                ImportJob.objects.using(db).filter(pk=row.pk).update(
                    status={"running": "applying", "cancelled": "failed"}.get(job.status, job.status),
                    rows_done=job.done, report=job.issues, started_at=job.started_at, finished_at=job.finished_at,
                )


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0010_user_identity_function'),
        ('imports', '0002_same_firm_links_to_users'),
        ('jobs', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='importjob',
            name='background_job',
            field=models.ForeignKey(db_constraint=False, db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='jobs.job'),
        ),
        migrations.RunPython(to_jobs, from_jobs),
        migrations.AlterField(
            model_name='importjob',
            name='background_job',
            field=models.ForeignKey(db_constraint=False, db_index=False, editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='jobs.job'),
        ),
        migrations.RemoveField(model_name='importjob', name='finished_at'),
        migrations.RemoveField(model_name='importjob', name='report'),
        migrations.RemoveField(model_name='importjob', name='rows_done'),
        migrations.RemoveField(model_name='importjob', name='started_at'),
        migrations.RemoveField(model_name='importjob', name='status'),
        migrations.AddConstraint(
            model_name='importjob',
            constraint=models.UniqueConstraint(fields=('firm', 'background_job'), name='imports_importjob_job_uniq'),
        ),
        migrations.AddConstraint(
            model_name='importjob',
            constraint=advisorportal.tenancy.constraints.SameFirmForeignKey(field='background_job', name='firm_fk_imports_importjob_background_job_id'),
        ),
    ]
