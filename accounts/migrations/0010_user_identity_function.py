"""The one way to reach a user before any firm is known (accounts/authentication.py).

``accounts_user`` is under row-level security, forced for its owner too, so nobody sees a user
without their firm in scope. Sign-in (by email), the session's user and API tokens (by id) first
need to learn which firm a user belongs to: this function answers that, and only that, for one
exact email or one id. It runs as the owner (SECURITY DEFINER), with the search path pinned so
nothing the caller creates can stand in for a table or an operator; the owner alone may read every
user (the SELECT policy below, which names only the owner role: the application role is not a
member of it). EXECUTE is revoked from PUBLIC here and granted to the application role after each
migrate (advisorportal/tenancy/grants.py, from ``User.app_role_functions``).
"""

from django.db import migrations

FUNCTION = """
CREATE FUNCTION accounts_user_identity(p_email text, p_user_id bigint)
RETURNS TABLE (id bigint, firm_id bigint, is_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.id, u.firm_id, u.is_active FROM public.accounts_user u
    WHERE p_user_id IS NULL AND u.email = p_email
    UNION ALL
    SELECT u.id, u.firm_id, u.is_active FROM public.accounts_user u
    WHERE p_email IS NULL AND u.id = p_user_id
$$;
REVOKE ALL ON FUNCTION accounts_user_identity(text, bigint) FROM PUBLIC;
COMMENT ON FUNCTION accounts_user_identity(text, bigint) IS
    'Which firm one user (by exact email or by id) belongs to, and whether it is active: all that '
    'authentication needs before a firm is in scope. No password hash, no name, no listing.';
CREATE POLICY accounts_user_identity_lookup ON accounts_user FOR SELECT TO CURRENT_USER USING (true);
"""

REVERSE = """
DROP POLICY IF EXISTS accounts_user_identity_lookup ON accounts_user;
DROP FUNCTION IF EXISTS accounts_user_identity(text, bigint);
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0009_same_firm_links_to_users")]

    operations = [migrations.RunSQL(FUNCTION, REVERSE)]
