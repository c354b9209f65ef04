"""Invariants the database and the models keep for users, organizations and customers."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.forms import modelform_factory
from django_scopes import scopes_disabled

from accounts.models import Customer, Organization, User
from tests.factories import CustomerFactory


@pytest.mark.django_db
def test_user_emails_are_unique_whatever_their_case():
    User.objects.create_user("Jane@Example.com", "pw")
    assert User.objects.get_by_natural_key("JANE@example.com").email == "jane@example.com"
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("jane@EXAMPLE.com", "pw")


@pytest.mark.django_db
def test_the_database_refuses_a_mixed_case_email_written_around_the_model():
    from django.db import connection

    with pytest.raises(IntegrityError), connection.cursor() as cursor, transaction.atomic():
        cursor.execute(
            "INSERT INTO accounts_user (password, email, full_name, is_active, is_superuser,"
            " date_joined) VALUES ('', 'Mixed@Example.com', '', true, false, now())"
        )


def test_one_customer_per_email_per_organization(tenant_a, tenant_b):
    with scopes_disabled():
        # The same person may be a customer of two organizations...
        CustomerFactory(organization=tenant_b.organization, email="Shared@Example.com")
        CustomerFactory(organization=tenant_a.organization, email="shared@example.com")
        # ...but only once in each, whatever the case of the address.
        duplicate = Customer(
            organization=tenant_a.organization, full_name="Again", email="SHARED@example.com"
        )
        with pytest.raises(ValidationError, match="already has a customer with this email"):
            duplicate.full_clean()
        with pytest.raises(IntegrityError), transaction.atomic():
            duplicate.save()


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["admin", "api", "metrics", "static"])
def test_an_organization_slug_may_not_shadow_a_platform_url(slug):
    with pytest.raises(ValidationError, match="used by the platform"):
        Organization(slug=slug, name="X", time_zone="UTC", currency="EUR").full_clean()


def test_an_unknown_time_zone_is_refused_with_a_message_on_the_field():
    form_class = modelform_factory(Organization, fields=["time_zone"])
    form = form_class(data={"time_zone": "Mars/Olympus_Mons"})
    assert not form.is_valid()
    assert "time_zone" in form.errors
