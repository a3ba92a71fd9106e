"""Corrections reach the daily values (issue #15): the gross-of-fee index beside the net one, and
the records of changes that a run must include.

- ``SeriesChange`` rows are written by a statement-level trigger on the transactions table: one
  row per account and statement, dated with the statement's earliest trade date, whatever path
  wrote the rows (a service, an import, a COPY).
- ``MarketRevision`` rows are written by statement-level triggers on closes and FX rates, which
  first take the market-data lock exclusively (``performance.MARKET_DATA_LOCK``).
- Existing series get a gross index equal to the net one and lose their states, so the next
  nightly update computes every account again from its first transaction (fees are classified
  anew). The series tables have forced row-level security, which applies to the owner running
  this migration too: rows are changed one firm at a time with the firm set.
"""

import advisorportal.tenancy.constraints
import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models


LOCK = 0x50524943  # performance.MARKET_DATA_LOCK

TRIGGERS = f"""
CREATE FUNCTION portfolios_tx_series_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO portfolios_serieschange (firm_id, account_id, from_date, created_at)
    SELECT n.firm_id, n.account_id, min(n.trade_date), now() FROM new_rows n GROUP BY n.firm_id, n.account_id;
    RETURN NULL;
END $$;
CREATE TRIGGER portfolios_tx_series_change AFTER INSERT ON portfolios_transaction
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION portfolios_tx_series_change();

CREATE FUNCTION portfolios_price_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK});
    INSERT INTO portfolios_marketrevision (security_id, currency, from_date, created_at)
    SELECT n.security_id, '', min(n.date), now() FROM new_rows n GROUP BY n.security_id;
    RETURN NULL;
END $$;
CREATE TRIGGER portfolios_price_revision_insert AFTER INSERT ON portfolios_securityprice
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION portfolios_price_revision();
CREATE TRIGGER portfolios_price_revision_update AFTER UPDATE ON portfolios_securityprice
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION portfolios_price_revision();

CREATE FUNCTION portfolios_fx_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK});
    INSERT INTO portfolios_marketrevision (security_id, currency, from_date, created_at)
    SELECT NULL, n.currency, min(n.date), now() FROM new_rows n GROUP BY n.currency;
    RETURN NULL;
END $$;
CREATE TRIGGER portfolios_fx_revision_insert AFTER INSERT ON portfolios_fxrate
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION portfolios_fx_revision();
CREATE TRIGGER portfolios_fx_revision_update AFTER UPDATE ON portfolios_fxrate
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION portfolios_fx_revision();
"""

DROP_TRIGGERS = """
DROP TRIGGER portfolios_tx_series_change ON portfolios_transaction;
DROP FUNCTION portfolios_tx_series_change();
DROP TRIGGER portfolios_price_revision_insert ON portfolios_securityprice;
DROP TRIGGER portfolios_price_revision_update ON portfolios_securityprice;
DROP FUNCTION portfolios_price_revision();
DROP TRIGGER portfolios_fx_revision_insert ON portfolios_fxrate;
DROP TRIGGER portfolios_fx_revision_update ON portfolios_fxrate;
DROP FUNCTION portfolios_fx_revision();
"""


def gross_from_net(apps, schema_editor):  # type: ignore[no-untyped-def]
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id FROM accounts_firm ORDER BY id")
        for (firm,) in cursor.fetchall():
            cursor.execute("SELECT set_config('app.firm_id', %s, true)", [str(firm)])
            cursor.execute("UPDATE portfolios_dailyseries SET gross_index = return_index WHERE firm_id = %s", [firm])
            cursor.execute("DELETE FROM portfolios_seriesstate WHERE firm_id = %s", [firm])
        cursor.execute("SELECT set_config('app.firm_id', '', true)")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_firm_token_max_days"),
        ("portfolios", "0006_same_firm_links_to_users"),
    ]

    operations = [
        migrations.AddField(
            model_name="dailyseries",
            name="gross_index",
            field=django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(), default=list, size=None),
        ),
        migrations.AddField(
            model_name="seriesstate",
            name="gross_index",
            field=models.FloatField(default=1.0),
        ),
        migrations.CreateModel(
            name="MarketRevision",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("currency", models.CharField(blank=True, max_length=3)),
                ("from_date", models.DateField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "security",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="portfolios.security",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="SeriesChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("from_date", models.DateField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "account",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="portfolios.clientaccount",
                    ),
                ),
                (
                    "firm",
                    models.ForeignKey(
                        db_index=False,
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.firm",
                    ),
                ),
            ],
            options={
                "abstract": False,
                "base_manager_name": "objects",
                "indexes": [models.Index(fields=["firm", "account", "from_date"], name="portfolios_series_change_idx")],
                "constraints": [
                    advisorportal.tenancy.constraints.FirmIdUnique(name="firm_uniq_portfolios_serieschange"),
                    advisorportal.tenancy.constraints.FirmRowLevelSecurity(name="firm_rls_portfolios_serieschange"),
                    advisorportal.tenancy.constraints.SameFirmForeignKey(
                        field="account", name="firm_fk_portfolios_serieschange_account_id"
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="SeriesWatermark",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("revision_id", models.BigIntegerField(default=0)),
                (
                    "firm",
                    models.ForeignKey(
                        db_index=False,
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.firm",
                    ),
                ),
            ],
            options={
                "abstract": False,
                "base_manager_name": "objects",
                "constraints": [
                    models.UniqueConstraint(fields=("firm",), name="portfolios_series_watermark_uniq"),
                    advisorportal.tenancy.constraints.FirmIdUnique(name="firm_uniq_portfolios_serieswatermark"),
                    advisorportal.tenancy.constraints.FirmRowLevelSecurity(name="firm_rls_portfolios_serieswatermark"),
                ],
            },
        ),
        migrations.RunPython(gross_from_net, migrations.RunPython.noop),
        migrations.RunSQL(TRIGGERS, DROP_TRIGGERS),
    ]
