from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import Customer, Location, Membership, Organization, Role, User
from bookings.models import Booking, Occupancy, OpeningHours, Service
from bookings.policy import RELEASING_STATUSES
from fleet.models import Car, Resource


def counts() -> dict[str, int]:
    with scopes_disabled():
        return {
            model.__name__: model.objects.count()
            for model in (
                Organization,
                Location,
                Membership,
                Customer,
                User,
                Resource,
                Car,
                Service,
                OpeningHours,
                Booking,
                Occupancy,
            )
        }


@pytest.mark.django_db
def test_seed_demo_creates_three_kinds_of_business_and_is_idempotent():
    output = StringIO()
    call_command("seed_demo", "--allow-without-debug", stdout=output)
    first = counts()
    call_command("seed_demo", "--allow-without-debug", stdout=StringIO())

    assert counts() == first
    assert first["Organization"] == 3
    with scopes_disabled():
        locations = {o.slug: o.locations.count() for o in Organization.objects.all()}
        assert sorted(locations.values()) == [1, 2, 2]
        for organization in Organization.objects.all():
            roles = set(organization.memberships.values_list("role", flat=True))
            assert roles == set(Role.values)
            assert organization.customers.filter(user__isnull=False).exists()
        for organization in Organization.objects.all():
            # every business can be booked: services on resources, hours, a few bookings
            assert organization.services.filter(resources__isnull=False).exists()
            assert organization.bookings.exists()
            # six weeks of history for the dashboard
            assert organization.bookings.filter(starts_at__lt=timezone.now()).count() >= 20
        kept = Booking.objects.exclude(status__in=RELEASING_STATUSES).count()
    assert first["Car"] == 4
    assert first["Occupancy"] == kept  # one per booking that holds its time
    assert User.objects.filter(is_superuser=True).count() == 1
    assert "demo-pass-2026" in output.getvalue()


@pytest.mark.django_db
def test_seed_demo_refuses_to_publish_logins_when_debug_is_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo", stdout=StringIO())
    assert counts()["User"] == 0
