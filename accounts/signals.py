"""Signals the accounts app sends to the apps above it, which it may not import."""

from django.dispatch import Signal

# Sent inside account_delete's transaction, after the person's customer profiles (`customer_ids`)
# were anonymised: an app holding copies of their details (rendered emails, notes) erases them.
account_erased = Signal()
