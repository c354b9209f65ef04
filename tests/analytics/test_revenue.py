"""Revenue is money kept, and today's shows a payment the moment it is taken.

The views hold the past; today comes from the live slice, which reads the payments of today's
bookings as they are now (analytics/figures.py).
"""

from decimal import Decimal

import pytest
from django.urls import reverse
from django_scopes import scope
from rest_framework.test import APIClient

from analytics.models import ReportView
from analytics.selectors import report_for
from analytics.services import table_rebuild
from bookings.models import PaymentMethod
from bookings.services import booking_cancel, payment_record, payment_refund
from tests.scenarios import NOW, TWO_DAYS_AGO, ReportingTenant

TODAY = NOW.date()


@pytest.fixture
def alpha(db, fixed_now) -> ReportingTenant:
    """Paid bookings two days ago (101.00 and 202.00), two unpaid ones later today; the views
    refreshed now, so today is the live slice's."""
    tenant = ReportingTenant("Alpha", main_price="101.00", annex_price="202.00")
    for view in ReportView:
        table_rebuild(view=view)
    return tenant


def revenue_today(tenant: ReportingTenant) -> Decimal:
    with scope(organization=tenant.organization):
        report = report_for(
            user=tenant.owner,
            organization=tenant.organization,
            locations=[tenant.location, tenant.other_location],
            first_day=TODAY,
            last_day=TODAY,
            now=NOW,
        )
    return report.totals.revenue


def api_revenue_today(tenant: ReportingTenant) -> str:
    client = APIClient()
    client.force_authenticate(tenant.owner)
    url = reverse("api:analytics-report", args=[tenant.organization.slug])
    body = client.get(url, {"first_day": TODAY.isoformat(), "last_day": TODAY.isoformat()}).json()
    return body["totals"]["revenue"]


def test_a_card_payment_raises_today_s_revenue_by_its_amount_at_once(alpha):
    before = revenue_today(alpha)

    with scope(organization=alpha.organization):
        payment_record(
            actor=alpha.owner,
            booking=alpha.own,
            amount=Decimal("40.00"),
            method=PaymentMethod.CARD,
        )

    assert revenue_today(alpha) == before + Decimal("40.00")
    assert Decimal(api_revenue_today(alpha)) == before + Decimal("40.00")


def test_a_refund_takes_it_back_and_a_kept_deposit_of_a_cancelled_booking_stays(alpha):
    with scope(organization=alpha.organization):
        payment_record(
            actor=alpha.owner,
            booking=alpha.own,
            amount=Decimal("30.00"),
            method=PaymentMethod.CASH,
            is_deposit=True,
        )
        payment_record(
            actor=alpha.owner,
            booking=alpha.not_own,
            amount=Decimal("101.00"),
            method=PaymentMethod.CARD,
        )
        payment_refund(
            actor=alpha.owner,
            booking=alpha.not_own,
            amount=Decimal("101.00"),
            method=PaymentMethod.CARD,
        )
        own = type(alpha.own).objects.get(pk=alpha.own.pk)
        booking_cancel(actor=alpha.owner, booking=own, expected_version=own.version)

    with scope(organization=alpha.organization):
        report = report_for(
            user=alpha.owner,
            organization=alpha.organization,
            locations=[alpha.location, alpha.other_location],
            first_day=TWO_DAYS_AGO.date(),
            last_day=TODAY,
            now=NOW,
        )
    today = next(day for day in report.days if day.day == TODAY)
    # the cancelled booking's deposit is kept; the refunded payment is not revenue
    assert (today.revenue, today.paid_bookings, today.cancelled) == (Decimal("30.00"), 1, 1)
    assert today.average_booking_value == Decimal("30.00")
    # two days ago, from the views: both paid in full
    assert report.totals.revenue == Decimal("303.00") + Decimal("30.00")
