"""No figure of another organization, or of a location outside a manager's, ever reaches the
dashboard, its CSV files or the API; a staff member sees their own day only.

Each location's bookings carry a price no other location uses, so a figure that leaked would
show up as its price.
"""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from analytics.models import ReportView, ViewRefresh
from analytics.services import table_rebuild
from tests.factories import ResourceFactory
from tests.scenarios import TWO_DAYS_AGO, ReportingTenant


@pytest.fixture
def alpha(db, fixed_now) -> ReportingTenant:
    return ReportingTenant("Alpha", main_price="101.00", annex_price="202.00")


@pytest.fixture
def bravo(db, fixed_now) -> ReportingTenant:
    return ReportingTenant("Bravo", main_price="303.00", annex_price="404.00")


@pytest.fixture
def refreshed(alpha, bravo) -> None:
    """The views hold both tenants' past; today comes from the live slice."""
    for view in ReportView:
        table_rebuild(view=view)


def dashboard(client, table: str | None = None, **params) -> str | list[list[str]]:
    url = reverse("admin:analytics_dashboard")
    if table:
        url = reverse("admin:analytics_dashboard_csv", args=[table])
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    if table:
        return list(csv.reader(io.StringIO(response.content.decode())))
    return response.content.decode()


def report(user, slug: str, **params):
    client = APIClient()
    client.force_authenticate(user)
    return client.get(reverse("api:analytics-report", args=[slug]), params)


LEAKS = ["303.00", "404.00", "Bravo"]


@pytest.mark.usefixtures("refreshed")
class TestOwner:
    def test_dashboard_shows_every_location_of_their_organization_only(self, alpha, client_for):
        page = dashboard(client_for(alpha.owner))

        assert "303.00" in page  # revenue: 101.00 + 202.00
        assert "Alpha annex bay" in page and "Alpha main bay" in page
        assert not any(leak in page for leak in LEAKS if leak != "303.00")

    def test_csv_of_each_table_holds_their_figures_only(self, alpha, client_for):
        client = client_for(alpha.owner)
        days = dashboard(client, "days")
        revenue = {row[0]: row[6] for row in days[1:]}

        assert revenue[TWO_DAYS_AGO.date().isoformat()] == "303.00"
        assert sum(Decimal(value) for value in revenue.values()) == Decimal("303.00")
        services = dashboard(client, "services")
        assert services[1:] == [["Alpha polish", "1", "202.00"], ["Alpha wash", "3", "101.00"]]
        resources = {row[1] for row in dashboard(client, "utilization")[1:]}
        assert resources == {"Alpha staff time", "Alpha main bay", "Alpha annex bay"}

    def test_api_totals_are_their_organization_s(self, alpha):
        body = report(alpha.owner, alpha.organization.slug).json()

        assert body["totals"]["revenue"] == "303.00"
        assert body["totals"]["taking_place"] == 4  # two two days ago, two later today
        assert {u["resource_name"] for u in body["utilization"]} == {
            "Alpha staff time",
            "Alpha main bay",
            "Alpha annex bay",
        }

    def test_another_organization_is_refused(self, alpha, bravo, client_for):
        page = client_for(alpha.owner).get(
            reverse("admin:analytics_dashboard"), {"organization": bravo.organization.slug}
        )
        assert page.status_code == 400
        assert "Select a valid choice" in page.content.decode()
        assert not any(leak in page.content.decode() for leak in LEAKS)
        assert report(alpha.owner, bravo.organization.slug).status_code == 403


@pytest.mark.usefixtures("refreshed")
class TestManager:
    """Alpha's manager works at the main location only."""

    def test_dashboard_and_csv_show_their_location_only(self, alpha, client_for):
        client = client_for(alpha.manager)
        page = dashboard(client)

        assert "101.00" in page
        assert "202.00" not in page and "Alpha annex bay" not in page
        assert not any(leak in page for leak in LEAKS)
        for table in ("days", "utilization", "services", "cars", "schedule"):
            exported = str(dashboard(client, table))
            assert "202.00" not in exported and "annex" not in exported.lower()

    def test_api_shows_their_location_only(self, alpha):
        body = report(alpha.manager, alpha.organization.slug).json()

        assert body["locations"] == [alpha.location.pk]
        assert body["totals"]["revenue"] == "101.00"
        assert [s["name"] for s in body["top_services"]] == ["Alpha wash"]

    def test_asking_for_another_location_is_refused(self, alpha, client_for):
        page = client_for(alpha.manager).get(
            reverse("admin:analytics_dashboard"), {"location": alpha.other_location.pk}
        )
        assert page.status_code == 400
        response = report(alpha.manager, alpha.organization.slug, location=alpha.other_location.pk)
        assert response.status_code == 400
        assert "location" in response.json()["error"]["details"]


@pytest.mark.usefixtures("refreshed")
class TestStaff:
    def test_dashboard_shows_their_own_day_and_no_figures(self, alpha, client_for):
        client = client_for(alpha.staff)
        page = dashboard(client)

        assert alpha.own.code in page
        assert alpha.not_own.code not in page
        assert "Revenue" not in page and "101.00" not in page
        schedule = dashboard(client, "schedule")
        assert [row[-1] for row in schedule[1:]] == [alpha.own.code]
        assert (
            client.get(reverse("admin:analytics_dashboard_csv", args=["days"])).status_code == 404
        )

    def test_api_gives_today_s_own_counts_and_refuses_the_report(self, alpha):
        assert report(alpha.staff, alpha.organization.slug).status_code == 403
        client = APIClient()
        client.force_authenticate(alpha.staff)
        today = client.get(reverse("api:analytics-today", args=[alpha.organization.slug])).json()
        assert today["total"] == 1
        assert today["by_status"]["confirmed"] == 1

    def test_staff_cannot_refresh(self, alpha, client_for):
        response = client_for(alpha.staff).post(reverse("admin:analytics_refresh"))
        assert response.status_code == 403


@pytest.mark.usefixtures("refreshed")
def test_customer_gets_neither_dashboard_nor_api(alpha, client_for):
    response = client_for(alpha.customer_user).get(reverse("admin:analytics_dashboard"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert report(alpha.customer_user, alpha.organization.slug).status_code == 403


def test_bad_dates_are_answered_400_naming_the_field(alpha, client_for):
    client = client_for(alpha.owner)
    url = reverse("admin:analytics_dashboard")

    future = client.get(url, {"last_day": "2029-12-08"})
    assert future.status_code == 400 and "Must not be after today" in future.content.decode()
    backwards = client.get(url, {"first_day": "2029-12-05", "last_day": "2029-12-01"})
    assert "Must not be before the first day" in backwards.content.decode()
    too_long = report(alpha.owner, alpha.organization.slug, first_day="2027-01-01")
    assert too_long.status_code == 400
    assert "first_day" in too_long.json()["error"]["details"]


@pytest.mark.usefixtures("refreshed")
def test_views_without_their_refresh_records_are_not_trusted_and_days_come_live(alpha):
    # given views holding the past, whose records a flush of the tables removed
    ViewRefresh.objects.all().delete()

    body = report(alpha.owner, alpha.organization.slug).json()

    assert body["totals"]["revenue"] == "303.00"  # counted once, from the live slice
    assert body["totals"]["taking_place"] == 4
    assert body["refreshes"] == []


def test_owner_refreshes_from_the_dashboard_and_is_told_so(alpha, client_for):
    before = dict(ViewRefresh.objects.values_list("view", "refresh_count"))
    client = client_for(alpha.owner)

    response = client.post(f"{reverse('admin:analytics_refresh')}?location={alpha.location.pk}")

    assert response.status_code == 302
    assert response["Location"].endswith(f"?location={alpha.location.pk}")
    after = dict(ViewRefresh.objects.values_list("view", "refresh_count"))
    assert all(after[view] == before.get(view, 0) + 1 for view in ReportView.values)
    page = client.get(response["Location"]).content.decode()
    assert "The figures are refreshed." in page
    assert re.search(r"\(0\sminutes ago\)", page)  # how old the past figures are


def test_odd_input_is_answered_and_never_a_server_error(alpha, client_for):
    client = client_for(alpha.owner)
    url = reverse("admin:analytics_dashboard")

    assert client.get(url, {"organization": "\x00"}).status_code == 400
    only_last_day = client.get(url, {"last_day": "2029-11-30"})
    assert only_last_day.status_code == 200  # the first day follows it, 30 days back
    assert "1 Nov 2029" in only_last_day.content.decode()
    assert client.get(reverse("admin:analytics_dashboard_csv", args=["nope"])).status_code == 404


@pytest.mark.usefixtures("refreshed")
def test_a_resource_deleted_since_the_refresh_drops_out_of_utilization(alpha, client_for):
    with scopes_disabled():
        idle = ResourceFactory(location=alpha.location, name="Alpha idle bay")
    for view in ReportView:
        table_rebuild(view=view)
    with scopes_disabled():
        idle.delete()

    rows = dashboard(client_for(alpha.owner), "utilization")

    assert "Alpha idle bay" not in {row[1] for row in rows[1:]}


@pytest.mark.usefixtures("refreshed")
def test_csv_cells_never_start_a_spreadsheet_formula(alpha, client_for):
    with scopes_disabled():
        alpha.customer.full_name = '=HYPERLINK("http://evil.example")'
        alpha.customer.save(update_fields=["full_name"])

    schedule = dashboard(client_for(alpha.owner), "schedule")

    assert {row[5] for row in schedule[1:]} == {'\'=HYPERLINK("http://evil.example")'}
