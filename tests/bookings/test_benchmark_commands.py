"""The benchmark commands keep working (their figures are in docs/indexes.md)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from bookings.models import Booking, Occupancy


@pytest.mark.django_db
def test_seed_benchmark_keeps_the_engine_invariants_and_explain_reads_the_new_indexes():
    call_command("seed_benchmark", "--bookings", "600", stdout=StringIO())
    with scopes_disabled():
        assert Booking.objects.count() == 600
        active = Booking.objects.exclude(status__in=["cancelled", "no_show"]).count()
        assert Occupancy.objects.count() == active
    with pytest.raises(CommandError, match="exists"):
        call_command("seed_benchmark", "--bookings", "10", stdout=StringIO())

    output = StringIO()
    call_command("explain_booking_queries", stdout=output)
    plans = output.getvalue()
    assert plans.count("Execution Time") == 5
    assert "service_slots for 7 days" in plans
