"""The dashboard's filters: which organization, which location, which days."""

import re
from datetime import date, timedelta

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Location, Organization
from accounts.roles import grants_of, is_platform_admin
from accounts.tenancy import ScopedModelChoiceField
from analytics.selectors import (
    DEFAULT_REPORT_DAYS,
    check_report_period,
    organization_today,
    schedule_locations,
)
from config.api.fields import FIRST_DAY, LAST_DAY

SLUG = re.compile(r"[-\w]+")


def dashboard_organizations(user) -> QuerySet[Organization]:
    """The organizations whose dashboard the user may open: their own, or all for an admin."""
    organizations = Organization.objects.order_by("name")
    if is_platform_admin(user):
        return organizations
    return organizations.filter(pk__in=grants_of(user))


class DashboardFilterForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(), to_field_name="slug", required=False
    )
    location = ScopedModelChoiceField(
        queryset=Location.objects.none(), required=False, empty_label="All my locations"
    )
    first_day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    last_day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data, *, user):
        organizations = dashboard_organizations(user)
        # The location choices depend on the organization asked for (or the first one).
        asked = data.get("organization", "")
        chosen = organizations.filter(slug=asked).first() if SLUG.fullmatch(asked) else None
        chosen = chosen or organizations.first()
        if chosen is not None and not any(data.get(name) for name in self.base_fields):
            data = data.copy()  # show what the page shows: the first organization, last 30 days
            today = organization_today(chosen, timezone.now())
            first_day = today - timedelta(days=DEFAULT_REPORT_DAYS - 1)
            data.update(
                organization=chosen.slug,
                first_day=first_day.isoformat(),
                last_day=today.isoformat(),
            )
        super().__init__(data)
        self.fields["organization"].queryset = organizations
        self.fields["organization"].empty_label = None
        self.chosen_organization = chosen
        if chosen is not None:
            self.fields["location"].queryset = schedule_locations(user, chosen)

    def clean_first_day(self) -> date | None:
        return self._in_calendar(self.cleaned_data["first_day"])

    def clean_last_day(self) -> date | None:
        return self._in_calendar(self.cleaned_data["last_day"])

    @staticmethod
    def _in_calendar(day: date | None) -> date | None:
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise forms.ValidationError(f"Must be between {FIRST_DAY} and {LAST_DAY}.")
        return day

    def clean(self) -> dict:
        cleaned = super().clean()
        organization = cleaned.get("organization") or self.chosen_organization
        if organization is None:
            raise forms.ValidationError("You are not a member of any organization.")
        cleaned["organization"] = organization
        today = organization_today(organization, timezone.now())
        if "first_day" in cleaned and "last_day" in cleaned:
            last_day = cleaned["last_day"] or today
            first_day = cleaned["first_day"] or last_day - timedelta(days=DEFAULT_REPORT_DAYS - 1)
            check_report_period(first_day, last_day, today)
            cleaned.update(first_day=first_day, last_day=last_day, today=today)
        return cleaned
