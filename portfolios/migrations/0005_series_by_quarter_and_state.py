"""Daily series by calendar quarter instead of month, and the series state of each account.

Existing month rows are joined into quarter rows (their arrays run without gaps, so a quarter's
arrays are its months' arrays one after the other). The series tables have forced row-level
security, which applies to the owner running this migration too, so the rows are converted one
firm at a time with the firm set as the transaction's ``app.firm_id``. ``SeriesState`` starts
empty: the first nightly update computes each account without one from its first transaction
(the cost of one full recompute, once) and stores the state the later nights start from.
"""

import advisorportal.tenancy.constraints
import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models

TO_QUARTERS = """
CREATE TEMPORARY TABLE portfolios_series_quarters ON COMMIT DROP AS
SELECT s.firm_id, s.account_id, date_trunc('quarter', s.quarter)::date AS quarter, min(s.first_date) AS first_date,
       array_agg(u.nav ORDER BY s.quarter, u.i) AS nav, array_agg(u.flow ORDER BY s.quarter, u.i) AS net_flow,
       array_agg(u.idx ORDER BY s.quarter, u.i) AS return_index
FROM portfolios_dailyseries s, unnest(s.nav, s.net_flow, s.return_index) WITH ORDINALITY AS u(nav, flow, idx, i)
WHERE s.firm_id = %(firm)s
GROUP BY 1, 2, 3;
DELETE FROM portfolios_dailyseries WHERE firm_id = %(firm)s;
INSERT INTO portfolios_dailyseries (firm_id, account_id, quarter, first_date, nav, net_flow, return_index)
SELECT firm_id, account_id, quarter, first_date, nav, net_flow, return_index FROM portfolios_series_quarters;
DROP TABLE portfolios_series_quarters;
"""


def months_to_quarters(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM accounts_firm ORDER BY id")
        firms = [row[0] for row in cursor.fetchall()]
        for firm in firms:
            cursor.execute("SELECT set_config('app.firm_id', %s, true)", [str(firm)])
            cursor.execute(TO_QUARTERS, {"firm": firm})
        cursor.execute("SELECT set_config('app.firm_id', '', true)")
        # Check the new rows' same-firm keys now: the constraint added next may not be added to a
        # table with pending trigger events.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0006_account_scope'),
        ('portfolios', '0004_daily_series'),
    ]

    operations = [
        migrations.RemoveConstraint(model_name='dailyseries', name='portfolios_daily_series_uniq'),
        migrations.RenameField(model_name='dailyseries', old_name='month', new_name='quarter'),
        migrations.AlterField(
            model_name='dailyseries',
            name='quarter',
            field=models.DateField(help_text='First day of the calendar quarter'),
        ),
        migrations.RunPython(months_to_quarters, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='dailyseries',
            constraint=models.UniqueConstraint(fields=('firm', 'account', 'quarter'), name='portfolios_daily_series_uniq'),
        ),
        # Rows are rewritten in place by every recompute and nightly run: half-empty pages let an
        # update stay on its page (a HOT update: no new index entries, no same-firm key check).
        migrations.RunSQL(
            "ALTER TABLE portfolios_dailyseries SET (fillfactor = 50)",
            "ALTER TABLE portfolios_dailyseries RESET (fillfactor)",
        ),
        migrations.CreateModel(
            name='SeriesState',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('as_of', models.DateField()),
                ('nav', models.FloatField()),
                ('return_index', models.FloatField()),
                ('security_ids', django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(), default=list, size=None)),
                ('quantities', django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(), default=list, help_text='Millionths of a unit', size=None)),
                ('currencies', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=3), default=list, size=None)),
                ('cash', django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(), default=list, help_text='Ten-thousandths of the currency', size=None)),
                ('account', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portfolios.clientaccount')),
                ('firm', models.ForeignKey(db_index=False, editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.firm')),
            ],
            options={
                'abstract': False,
                'base_manager_name': 'objects',
            },
        ),
        migrations.AddConstraint(
            model_name='seriesstate',
            constraint=models.UniqueConstraint(fields=('firm', 'account'), name='portfolios_series_state_uniq'),
        ),
        migrations.RunSQL(
            "ALTER TABLE portfolios_seriesstate SET (fillfactor = 50)",
            "ALTER TABLE portfolios_seriesstate RESET (fillfactor)",
        ),
        migrations.AddConstraint(
            model_name='seriesstate',
            constraint=advisorportal.tenancy.constraints.FirmIdUnique(name='firm_uniq_portfolios_seriesstate'),
        ),
        migrations.AddConstraint(
            model_name='seriesstate',
            constraint=advisorportal.tenancy.constraints.FirmRowLevelSecurity(name='firm_rls_portfolios_seriesstate'),
        ),
        migrations.AddConstraint(
            model_name='seriesstate',
            constraint=advisorportal.tenancy.constraints.SameFirmForeignKey(field='account', name='firm_fk_portfolios_seriesstate_account_id'),
        ),
    ]
