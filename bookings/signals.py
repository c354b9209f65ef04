"""What the engine does when something below it changes.

Cache invalidation: after a commit that changes what availability is computed from, bump the
version it depends on (bookings/availability_cache.py). Receivers rather than calls in each
service because the admin edits hours, closures, services and resources directly; every write
path, admin or service, goes through these.

Erasure: when a person deletes their account (accounts.services.account_delete), the engine's
copies of their details (rendered emails, the notes they typed) are erased too; the bookings
themselves stay, as the businesses' records.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django_scopes import scopes_disabled

from accounts.models import Location, User
from accounts.signals import account_erased
from bookings import availability_cache
from bookings.models import (
    Booking,
    Closure,
    EmailStatus,
    Occupancy,
    OpeningHours,
    OutboxEmail,
    Service,
    ServiceVehiclePrice,
)
from fleet.models import Car, Resource

REFERENCE_MODELS = (Location, Service, ServiceVehiclePrice, OpeningHours, Closure, Resource, Car)


@receiver(post_save, sender=Occupancy)
@receiver(post_delete, sender=Occupancy)
def occupancy_changed(sender, instance: Occupancy, **kwargs) -> None:
    location = instance.resource.location
    tz = location.time_zone
    # A day's slots reach into its neighbours by at most a duration and a buffer, so the days
    # on either side of the occupancy are bumped too.
    first = instance.starts_at.astimezone(tz).date() - timedelta(days=1)
    last = instance.ends_at.astimezone(tz).date() + timedelta(days=1)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    transaction.on_commit(lambda: availability_cache.invalidate_days(location.pk, days))


def reference_data_changed(sender, instance, **kwargs) -> None:
    organization_id = instance.organization_id
    transaction.on_commit(lambda: availability_cache.invalidate_reference_data(organization_id))


for model in REFERENCE_MODELS:
    post_save.connect(reference_data_changed, sender=model, dispatch_uid=f"availability-{model}")
    post_delete.connect(reference_data_changed, sender=model, dispatch_uid=f"availability-d{model}")
m2m_changed.connect(
    reference_data_changed,
    sender=Service.resources.through,
    dispatch_uid="availability-service-resources",
)


ERASED = "[erased at the customer's request]"


@receiver(account_erased, sender=User)
def customer_details_erased(sender, customer_ids: list[int], **kwargs) -> None:
    """Runs in account_delete's transaction, across the person's organizations on purpose."""
    with scopes_disabled():
        emails = OutboxEmail.objects.filter(booking__customer_id__in=customer_ids)
        # An email not yet sent has nowhere to go now: it is given up, never sent.
        emails.filter(status=EmailStatus.PENDING).update(
            status=EmailStatus.FAILED, last_error=ERASED
        )
        emails.update(to="", body_text=ERASED, body_html=ERASED, calendar="")
        Booking.objects.filter(customer_id__in=customer_ids).exclude(notes="").update(notes="")
