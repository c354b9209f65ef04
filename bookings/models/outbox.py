"""The email outbox: customer emails written in the booking's transaction, sent by Celery."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_scopes import ScopedManager

from accounts.models import EmailStatus, TenantModel
from bookings.models.booking import Booking
from config.encryption import EncryptedEmailField, EncryptedJSONField, EncryptedTextField


class EmailKind(models.TextChoices):
    CONFIRMATION = "confirmation", "Booking confirmation"
    CONFIRMED = "confirmed", "Booking confirmed by the business"
    CHANGE = "change", "Booking changed"
    CANCELLATION = "cancellation", "Booking cancelled"
    REMINDER = "reminder", "Reminder"


class OutboxEmailQuerySet(models.QuerySet):
    def due(self) -> "OutboxEmailQuerySet":
        """Pending emails whose claim ran out (`next_attempt_at`, accounts.outbox): the task
        queued at the commit, a retry or a send was lost (a broker down, a worker killed)."""
        return self.filter(
            status=EmailStatus.PENDING, next_attempt_at__lte=timezone.now()
        ).order_by("next_attempt_at")


class OutboxEmail(TenantModel):
    """An email to a customer about one event of their booking: the transactional outbox.

    Written in the transaction that changes the booking, so the email exists if and only if the
    change committed; a Celery task renders it from `snapshot` and sends it afterwards
    (bookings/notifications.py, bookings/tasks.py).
    `event_key` names the event ("created", "rescheduled:3"...): one row per event, so an
    event is never emailed twice.
    """

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="emails")
    kind = models.CharField(max_length=12, choices=EmailKind.choices)
    event_key = models.CharField(max_length=64)
    # The recipient and the bodies carry the customer's contact details: encrypted at rest.
    to = EncryptedEmailField()
    subject = models.CharField(max_length=255)
    body_text = EncryptedTextField()
    body_html = EncryptedTextField()
    calendar = EncryptedTextField(help_text="The .ics attachment (iCalendar).")
    # The booking's fields as the event left them; the bodies above are rendered from it when
    # the email is sent (empty until then). Null for emails rendered when they were written.
    # Encrypted too: it holds the cancellation's reason, which the customer may have written.
    snapshot = EncryptedJSONField(null=True, blank=True, editable=False)
    status = models.CharField(
        max_length=8, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a pending email should next be tried; the sweeper re-queues those past due.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(
        organization="organization",
        _manager_class=models.Manager.from_queryset(OutboxEmailQuerySet),
    )

    tenant_location_path = "booking__location"
    tenant_owner_path = "booking__resource__membership__user"

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "email"
        # No unique (booking, event_key): the table is partitioned by month on created_at
        # (config/partitioning.py), where a unique constraint must contain created_at.
        # email_queue keeps one row per event under the booking's row lock instead.
        indexes = [
            # The sweeper's query: only pending rows are indexed, so the index stays tiny.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="outbox_email_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.booking}"
