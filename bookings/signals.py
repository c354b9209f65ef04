"""What the engine does when something below it changes.

Cache invalidation is not here: PostgreSQL triggers bump the availability generations in the
changing transaction (bookings/availability_cache.py, migration 0014).

Erasure: when a person deletes their account (accounts.services.account_delete), the engine's
copies of their details (rendered emails, the notes they typed) are erased too; the bookings
themselves stay, as the businesses' records.
"""

from django.dispatch import receiver

from accounts.models import User
from accounts.signals import account_erased
from bookings.models import Booking, EmailStatus, OutboxEmail
from config.row_security import platform_wide

ERASED = "[erased at the customer's request]"


@receiver(account_erased, sender=User)
def customer_details_erased(sender, customer_ids: list[int], **kwargs) -> None:
    """Runs in account_delete's transaction, across the person's organizations on purpose."""
    with platform_wide("account erasure: the person's emails in every organization"):
        emails = OutboxEmail.objects.filter(booking__customer_id__in=customer_ids)
        # An email not yet sent has nowhere to go now: it is given up, never sent.
        emails.filter(status=EmailStatus.PENDING).update(
            status=EmailStatus.FAILED, last_error=ERASED
        )
        emails.update(to="", body_text=ERASED, body_html=ERASED, calendar="", snapshot=None)
        Booking.objects.filter(customer_id__in=customer_ids).exclude(notes="").update(notes="")
