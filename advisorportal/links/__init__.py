"""Single-use, expiring links for people who are not users: a client approving a withdrawal, a
fee increase or an account application; an ESG questionnaire invitation.

**What is stored.** A ``Link`` row per email: the purpose (a registered code, ``purposes.py``),
the subject it is about (a model's ``app.model`` label and primary key, or a caller's own name
and id), the SHA-256 fingerprint of exactly what the link approves, the recipient, the SHA-256
of the token's secret (never the token), expiry, and when it was used, revoked or closed by the
expiry sweep. The secret is ``secrets.token_urlsafe(32)``: 256 random bits, so an unsalted hash is
enough (nobody can try 2^256 guesses), and a stolen table gives no usable link.

**How the firm is found before anyone signs in.** The token is ``<firm id>.<secret>``; only the
secret is hashed. The page sets the firm scope from the prefix (``link_scope``) and looks the
hash up under the same row-level security as every other query. We chose this over a
security-definer function that searches every firm's links because: nothing runs with rights
above the application role's; the lookup is an ordinary indexed query on ``(firm_id,
token_hash)`` that stays on one shard if tables are ever distributed by firm; and a forged or
altered prefix only searches another firm for a hash it does not have. The prefix tells the
holder the firm's number, which is no secret (the email names the firm). A request with another
firm already in scope (a signed-in user of another firm) gets the same refusal as a bad token.

**One answer for every bad token.** Unknown, malformed, used, expired, revoked, another
purpose's or another firm's token: all raise ``LinkNotValid`` with one message. The hash is found
through the unique index and compared again with ``hmac.compare_digest``. Refusals of a link that
exists are recorded in its firm's audit trail with the reason; a token that matches nothing is
only logged (its prefix is unverified, and a stranger must not be able to write into a firm's
audit trail).

**Consuming is one conditional UPDATE**: ``UPDATE … SET used_at = now() WHERE id = … AND
used_at IS NULL AND revoked_at IS NULL AND expired_at IS NULL AND expires_at > now() AND
fingerprint = <the subject's fingerprint now>``. Of any number of concurrent consumers exactly one
updates the row; the others wait for its lock, see ``used_at`` set and update nothing. It must run
inside the transaction of what the approval does, so that a failed approval leaves the link
unused; and the caller catches ``LinkNotValid`` *inside* that transaction (a request's, with
``ATOMIC_REQUESTS``), or the refusal's audit entry is rolled back with it.

**Edits void links twice over**: the edit service calls ``links_revoke`` for the subject (visible
at once, and it also voids links whose content later returns to what it was), and consuming
compares the fingerprint anyway, so an edit that raced the click is caught too.

**Expiry.** ``links_expire`` (Celery beat, every 15 minutes, one task per firm) closes links past
``expires_at`` and calls their purpose's ``on_expired``; a link past its time is refused even
before the sweep reaches it.

**Audit.** Issued, consumed, refused, revoked and expired are recorded through
``advisorportal.auditing`` (accounts registers the recorder; the floor does not import it).

**The approval page and one-time codes** (``views.py``, for every purpose that has a page:
``Purpose.show``, ``code_destinations``, ``decide``, ``fingerprint``). ``GET``/``HEAD
/approve/<token>/`` shows exactly what is approved and changes nothing; ``POST …/code/`` sends a
six-digit code to the holder's email or phone on file (``LinkCode``: only a keyed hash is kept;
ten minutes; five codes per link, one per half minute; a new code voids the last); ``POST
…/decide/`` approves or declines. A purpose with ``needs_code`` is consumed only with its code:
``link_consume`` first uses the code by a conditional UPDATE of its own, counting a wrong try
(five per code, ten per link, then every link of the subject is revoked). Bad tokens and wrong
codes are counted per client address (429 past twenty in a quarter of an hour).
"""
