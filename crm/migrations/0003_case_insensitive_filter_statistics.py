"""Statistics on ``upper(column)`` for each case-insensitive text filter of ``crm.filters``.

Without them PostgreSQL guesses that ``upper(res_city) = 'BOSTON'`` matches 0.5% of contacts, and
for a segment combining such a filter it sorted a scan of the whole table (110 ms at 100k contacts)
instead of walking the name index to the first page (11 ms). ``tests/test_crm.py`` checks that
every such filter has its statistics.
"""

from django.db import migrations

COLUMNS = (
    "citizenship", "language", "res_city", "res_state", "res_postal_code", "res_country", "tax_country",
    "organization", "employer", "occupation",
)  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("crm", "0002_contact_fields_groups_views")]

    operations = [
        migrations.RunSQL(
            [f"CREATE STATISTICS crm_contact_{c}_ci ON (upper({c}::text)) FROM crm_contact" for c in COLUMNS],
            [f"DROP STATISTICS crm_contact_{c}_ci" for c in COLUMNS],
        )
    ]
