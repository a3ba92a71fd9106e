"""Users are firm data too: row-level security on accounts_user, same-firm keys to users, and the
one narrow path authentication takes to a user before any firm is in scope (accounts.identity)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.utils import ProgrammingError
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from accounts.identity import Identity, identity_by_email, identity_by_id
from accounts.models import ApiToken, User
from accounts.services import api_token_create
from advisorportal.tenancy.context import FirmScopeError
from crm.models import Contact, Group
from tests.conftest import Persona
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def _rows(sql: str, params: list[object] | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


# (a) Another firm's users are invisible to the application role, the ORM bypassed.


def test_raw_sql_sees_no_user_without_a_firm_and_only_the_firms_users_with_one(
    alice: Persona, bob: Persona, charlie: Persona
) -> None:
    assert _rows("SELECT count(*) FROM accounts_user") == [(0,)]
    assert _rows("SELECT password FROM accounts_user WHERE email = %s", [charlie.user.email]) == []
    with alice.scope():
        assert {r[0] for r in _rows("SELECT id FROM accounts_user")} == {alice.user.pk, bob.user.pk}
        assert _rows("SELECT password FROM accounts_user WHERE id = %s", [charlie.user.pk]) == []
        with connection.cursor() as cursor:
            cursor.execute("UPDATE accounts_user SET is_active = false WHERE id = %s", [charlie.user.pk])
            assert cursor.rowcount == 0
            cursor.execute("DELETE FROM accounts_user WHERE id = %s", [charlie.user.pk])
            assert cursor.rowcount == 0
    with charlie.scope():
        assert _rows("SELECT id, is_active FROM accounts_user") == [(charlie.user.pk, True)]


def test_raw_sql_cannot_create_a_user_in_another_firm(alice: Persona, charlie: Persona) -> None:
    with (
        alice.scope(),
        pytest.raises(ProgrammingError, match="row-level security"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO accounts_user (password, email, full_name, firm_id, role, is_active, date_joined)"
            " VALUES ('', 'eve@beta.test', 'Eve', %s, 'primary', true, now())",
            [charlie.firm.pk],
        )


def test_the_user_manager_fails_closed(alice: Persona, charlie: Persona) -> None:
    with pytest.raises(FirmScopeError):
        User.objects.filter(email=alice.user.email).first()
    token, _ = api_token_create(user=alice.user, name="t")
    with pytest.raises(FirmScopeError):
        _ = ApiToken.objects.get(pk=token.pk).user  # related access goes through the same manager
    with alice.scope():
        assert not User.objects.filter(pk=charlie.user.pk).exists()
        assert not User.objects.unscoped().filter(pk=charlie.user.pk).exists()  # RLS beneath the escape hatch
        assert ApiToken.objects.get(pk=token.pk).user == alice.user


# (b) The database refuses a link from one firm's data to another firm's user.


def _immediately(sql: str, params: list[object]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_contact_cannot_have_another_firms_advisor_or_creator(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
        _immediately("UPDATE crm_contact SET advisor_id = %s WHERE id = %s", [alice.user.pk, contact.pk])  # own: fine
        for column in ("advisor_id", "created_by_id"):
            with pytest.raises(IntegrityError, match=f"firm_fk_crm_contact_{column}"):
                _immediately(f"UPDATE crm_contact SET {column} = %s WHERE id = %s", [charlie.user.pk, contact.pk])


def test_an_audit_entry_cannot_name_another_firms_actor(alice: Persona, charlie: Persona) -> None:
    with alice.scope(), pytest.raises(IntegrityError, match="firm_fk_accounts_auditentry_actor_id"):
        _immediately(
            "INSERT INTO accounts_auditentry (firm_id, created_at, actor_id, action, object_type, object_id,"
            " object_repr, changes, user_agent, request_id) VALUES (%s, now(), %s, 'read', '', '', '', '{}', '', '')",
            [alice.firm.pk, charlie.user.pk],
        )


def test_a_group_and_a_grant_cannot_belong_to_another_firms_user(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        group = Group.objects.create(name="Top clients", owner=alice.user)
        with pytest.raises(IntegrityError, match="firm_fk_crm_group_owner_id"):
            _immediately("UPDATE crm_group SET owner_id = %s WHERE id = %s", [charlie.user.pk, group.pk])
        with pytest.raises(IntegrityError, match="firm_fk_accounts_accessgrant_user_id"):
            _immediately(
                "INSERT INTO accounts_accessgrant (firm_id, user_id, \"right\", scope) VALUES (%s, %s, 'crm', 'all')",
                [alice.firm.pk, charlie.user.pk],
            )


def test_model_validation_refuses_another_firms_user(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        contact = Contact(first_name="Ann", last_name="Lee", advisor=charlie.user)
        with pytest.raises(ValidationError) as error:
            contact.full_clean()
    assert "advisor" in error.value.message_dict


# (c) Authentication still works end to end: sign-in, 2FA, the session's user, tokens, sign-out.


def test_sign_in_two_factor_session_and_sign_out_end_to_end(charlie: Persona) -> None:
    two_factor.enrol_with_secret(charlie.user, b"0123456789abcdefghij")
    device = TOTPDevice.objects.get(user=charlie.user)
    client = Client()
    assert client.post("/login/", {"username": " Charlie@Beta.test ", "password": charlie.password}).status_code == 302
    assert client.get("/contacts/")["Location"].startswith("/login/verify/")
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    assert client.post("/login/verify/", {"code": code, "next": "/contacts/"})["Location"] == "/contacts/"
    page = client.get("/contacts/")
    assert page.status_code == 200 and b"Beta Capital" in page.content  # the user came with their firm
    with charlie.scope():
        assert User.objects.get(pk=charlie.user.pk).last_login is not None  # saved in the user's firm
    assert client.post("/logout/").status_code == 302
    assert client.get("/contacts/").status_code == 302


def test_a_wrong_password_and_an_unknown_email_are_refused_alike(alice: Persona) -> None:
    for username, password in ((alice.user.email, "wrong"), ("nobody@alpha.test", alice.password)):
        response = Client().post("/login/", {"username": username, "password": password})
        assert response.status_code == 200 and b"do not match an active account" in response.content


def test_a_token_authenticates_its_user_loaded_in_their_firm(alice: Persona) -> None:
    response = alice.api().get("/api/v1/me/")
    assert response.status_code == 200 and response.json()["email"] == alice.user.email


def test_inviting_a_taken_email_of_another_firm_is_refused(alice: Persona, charlie: Persona) -> None:
    response = alice.client().post("/settings/users/", {"email": charlie.user.email, "full_name": "X", "role": "staff"})
    assert response.status_code == 200 and b"cannot be invited" in response.content


# (d) The narrow path: one function, only the firm of one exact email or id, nothing else.


def test_the_identity_function_answers_only_for_one_exact_email_or_id(alice: Persona, charlie: Persona) -> None:
    expected = Identity(charlie.user.pk, charlie.firm.pk, True)
    assert identity_by_email(charlie.user.email) == identity_by_id(charlie.user.pk) == expected
    assert identity_by_email(" CHARLIE@beta.test ") == expected  # normalised as stored
    for email, user_id in (("%", None), ("charlie@%", None), ("", None), (None, None),
                           (charlie.user.email, charlie.user.pk)):  # fmt: skip
        assert _rows("SELECT * FROM accounts_user_identity(%s, %s)", [email, user_id]) == []
    assert identity_by_id("1 OR 1=1") is None and identity_by_id(2**70) is None and identity_by_id(-1) is None


def test_the_identity_function_returns_no_password_or_name(alice: Persona) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_user_identity(%s, NULL)", [alice.user.email])
        assert [column.name for column in cursor.description] == ["id", "firm_id", "is_active"]


def test_the_identity_function_cannot_be_fooled_by_a_table_of_the_caller(alice: Persona) -> None:
    """Its search path is pinned: a temporary accounts_user of the application role is not read."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE accounts_user (id bigint, firm_id bigint, is_active bool, email text)")
        cursor.execute("INSERT INTO accounts_user VALUES (999, 999, true, 'eve@evil.test')")
        cursor.execute("SELECT * FROM accounts_user_identity('eve@evil.test', NULL)")
        assert cursor.fetchall() == []
        cursor.execute("SELECT firm_id FROM accounts_user_identity(%s, NULL)", [alice.user.email])
        assert cursor.fetchall() == [(alice.firm.pk,)]
        cursor.execute("DROP TABLE pg_temp.accounts_user")
    assert _rows("SELECT has_schema_privilege(current_user, 'public', 'CREATE')") == [(False,)]


def test_an_inactive_user_is_known_as_inactive_and_not_loaded(alice: Persona, bob: Persona) -> None:
    with alice.scope():
        User.objects.filter(pk=bob.user.pk).update(is_active=False)
    assert identity_by_id(bob.user.pk) == Identity(bob.user.pk, bob.firm.pk, False)
    assert Client().post("/login/", {"username": bob.user.email, "password": bob.password}).status_code == 200


def test_only_accounts_identity_calls_the_function() -> None:
    """The one path before a firm is known: any other caller is a review finding."""
    callers = {
        path.relative_to(ROOT).as_posix()
        for path in ROOT.rglob("*.py")
        if not path.relative_to(ROOT).parts[0].startswith((".", "var", "tests"))
        and "migrations" not in path.parts
        and re.search(r"accounts_user_identity\s*\(", path.read_text(encoding="utf-8"))
    }
    assert callers == {"accounts/identity.py", "accounts/models.py"}  # models.py: the grant's signature


def test_the_session_user_is_loaded_anew_on_every_request(alice: Persona) -> None:
    """The session holds only the user id; a user disabled meanwhile is signed out at once."""
    client = alice.client()
    assert client.get("/contacts/").status_code == 200
    with alice.scope():
        User.objects.filter(pk=alice.user.pk).update(is_active=False)
    assert client.get("/contacts/").status_code == 302
