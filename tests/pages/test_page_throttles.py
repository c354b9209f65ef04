"""The anonymous page forms are counted per address: the booking's last step and the lookup by
code and email answer a 429 page with Retry-After once an address has sent too many, while
another address is still served and nothing is written by a refused attempt."""

from datetime import timedelta

from django_scopes import scopes_disabled

from bookings.models import Booking
from tests.scenarios import MONDAY_10


def lookup(client, shop, address: str):
    return client.post(
        shop.url("booking-lookup"), {"code": "WRONG123", "email": "aino@example.com"},
        REMOTE_ADDR=address,
    )  # fmt: skip


def test_guessing_codes_from_one_address_is_stopped(shop, client, rates):
    rates(page_lookup="3/hour")

    answers = [lookup(client, shop, "203.0.113.7").status_code for _ in range(4)]

    assert answers == [400, 400, 400, 429]
    refused = lookup(client, shop, "203.0.113.7")
    assert refused.status_code == 429
    assert 3000 < int(refused["Retry-After"]) <= 3600
    assert "Too many attempts" in refused.content.decode()
    assert lookup(client, shop, "198.51.100.9").status_code == 400  # another address


def test_one_address_cannot_book_without_end(shop, client, rates):
    rates(page_booking="2/hour")
    url = shop.url("book", shop.wash.pk, shop.location.slug)
    details = {"full_name": "Aino Virtanen", "email": "aino@example.com", "phone": "+358401234567",
               "vehicle_type": "suv", "notes": "", "step": "confirm"}  # fmt: skip

    def book(hours: int, address: str):
        starts_at = (MONDAY_10 + timedelta(hours=hours)).isoformat()
        return client.post(url, {**details, "starts_at": starts_at}, REMOTE_ADDR=address)

    assert [book(hours, "203.0.113.7").status_code for hours in (0, 1, 2)] == [302, 302, 429]
    with scopes_disabled():
        assert Booking.objects.count() == 2  # the refused attempt wrote nothing
    assert book(3, "198.51.100.9").status_code == 302
