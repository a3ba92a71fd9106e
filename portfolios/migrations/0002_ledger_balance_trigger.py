"""The database refuses an unbalanced ledger entry.

A statement-level trigger looks at the postings each INSERT adds (its transition table): per entry
and currency they must sum to zero. An entry's postings are written by one INSERT (the services and
the bulk loaders do so), and since postings are append-only, every entry then balances. The check
costs one hash aggregate over the inserted rows, so bulk loads stay fast.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION portfolios_postings_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT entry_id, currency, sum(amount) AS total INTO bad
    FROM new_postings GROUP BY entry_id, currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger entry % does not balance in %: its postings sum to %',
            bad.entry_id, bad.currency, bad.total USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER portfolios_postings_balance AFTER INSERT ON portfolios_ledgerposting
    REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT EXECUTE FUNCTION portfolios_postings_balance();
"""

DROP = """
DROP TRIGGER IF EXISTS portfolios_postings_balance ON portfolios_ledgerposting;
DROP FUNCTION IF EXISTS portfolios_postings_balance();
"""


class Migration(migrations.Migration):
    dependencies = [("portfolios", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
