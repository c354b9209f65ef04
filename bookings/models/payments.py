"""Money taken for a booking, and money given back: one row each, never edited or deleted.

A booking's payment status follows from its rows (bookings.services.payments.payment_status_of)
and analytics' revenue is their net sum (analytics/figures.py), so the rows are the record and
everything else is derived from them. A refund is a row of its own, never a changed payment.
"""

from django.db import models
from django.db.models import Q

from accounts.models import TenantModel, User
from bookings.models.booking import Booking


class PaymentKind(models.TextChoices):
    PAYMENT = "payment", "Payment"
    REFUND = "refund", "Refund"


class PaymentMethod(models.TextChoices):
    CASH = "cash", "Cash"
    CARD = "card", "Card"
    OTHER = "other", "Other"
    # An online provider (Stripe...) is added as a method of its own, with `provider` and
    # `provider_reference` naming it and its charge; nothing else about a row changes.


class Payment(TenantModel):
    """An amount taken for a booking (or given back, kind=refund), in the booking's currency."""

    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(max_length=10, choices=PaymentKind.choices)
    method = models.CharField(max_length=10, choices=PaymentMethod.choices)
    provider = models.CharField(
        max_length=40, blank=True, help_text="The online provider, if one took the payment."
    )
    provider_reference = models.CharField(
        max_length=200, blank=True, help_text="The provider's id of the charge or refund."
    )
    amount = models.DecimalField(max_digits=10, decimal_places=2, help_text="Always positive.")
    currency = models.CharField(max_length=3)
    is_deposit = models.BooleanField(
        default=False, help_text="Taken ahead as a deposit, not as the price itself."
    )
    recorded_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=500, blank=True)
    # The desk form's one-time key: a payment form posted twice (a double click) records once.
    submission_key = models.CharField(max_length=32, blank=True, editable=False, db_default="")

    tenant_location_path = "booking__location"
    tenant_owner_path = "booking__resource__membership__user"

    class Meta:
        ordering = ["created_at", "pk"]
        # Giving money back is a right of its own (accounts.roles): who may take a payment
        # may not necessarily refund one.
        permissions = [("refund_payment", "Can refund a payment")]
        constraints = [
            # The sign is the kind's: a refund is a positive amount given back.
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.UniqueConstraint(
                fields=["submission_key"],
                condition=~Q(submission_key=""),
                name="one_payment_per_form_submission",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.booking}: {self.get_kind_display().lower()} {self.amount} {self.currency}"

    @property
    def signed_amount(self):
        """What the row adds to the booking's net paid amount."""
        return -self.amount if self.kind == PaymentKind.REFUND else self.amount
