"""What the accounts tell the apps built on them (so those apps depend on portfolios, never the
other way round)."""

from django.dispatch import Signal

# Sent by ``services.account_close`` inside its transaction, after the account is saved closed:
# ``account`` (the ClientAccount), ``closed_on`` (its last open day) and ``actor``. A receiver
# answers a list of what it did, in words for the person closing it; one that raises refuses the
# closing (nothing is kept).
account_closed = Signal()
