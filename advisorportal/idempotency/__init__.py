"""Idempotency keys: an operation retried with the same key returns its first result and does
nothing twice; the same key with another payload is refused.

A key is chosen by the client (``Idempotency-Key`` header, or a custodian's row id in an import)
and is unique per firm and scope (the operation's name). The row stores the SHA-256 of the
payload's canonical JSON (``advisorportal.hashing``) and, once the operation is done, its result:
a status and a JSON body.

- Services: ``with idempotent(scope=…, key=…, payload=…) as attempt`` (services.py).
- DRF views: ``@idempotent_view("scope")`` on an APIView method (api.py).

**Exactly once under concurrency.** The key is inserted with ``INSERT … ON CONFLICT DO NOTHING``
in the same transaction as the operation's side effects, and its result is stored in that
transaction too. A second request with the key blocks on the unique index until the first ends:
committed, it finds the stored result and replays it; rolled back (an error), it inserts the key
itself and runs. So no result is stored without its side effect, and no side effect without its
result.

**Errors** (the API's one error shape, ``{"error": {"code", "message"}}``): the same key with a
different payload is **422** ``idempotency_key_reused`` (as the IETF httpapi Idempotency-Key draft
recommends; 409 is what it keeps for a request still in progress, ``idempotency_key_in_progress``,
which here only a key reused inside its own transaction can meet); a missing (where required) or
malformed key is **400** ``idempotency_key_invalid``. Messages name the header.

Keys are kept (no expiry): a ledger that de-duplicates custodian rows by their ids must recognise
a row however late it comes again.
"""
