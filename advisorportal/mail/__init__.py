"""Outgoing email for the whole product (docs/email.md): templates registered in code by the app
that owns them (``templates.register``), one record per message (``OutgoingEmail``), delivery by
Celery after commit with retries and a per-firm rate limit, white-branded through a hook that
identity registers (``branding``)."""
