"""The tenant wall: scoped queries, the per-request scope and Celery tasks re-entering it."""

import pytest
from celery import shared_task
from django.urls import reverse
from django_scopes import ScopeError, scope, scopes_disabled

from accounts.models import Customer, Location, Membership
from accounts.tenancy import OrganizationTask
from tests.factories import ResourceFactory, ServiceFactory


@pytest.mark.parametrize("model", [Location, Membership, Customer])
def test_a_query_outside_any_tenant_scope_raises_instead_of_returning_rows(
    model, tenant_a, tenant_b
):
    with pytest.raises(ScopeError):
        list(model.objects.all())
    with pytest.raises(ScopeError):
        model.objects.filter(organization=tenant_b.organization).count()
    with pytest.raises(ScopeError):
        model.objects.get(pk=1)


def test_a_scope_returns_only_that_organizations_rows(tenant_a, tenant_b):
    with scope(organization=tenant_a.organization):
        assert set(Location.objects.all()) == {tenant_a.location, tenant_a.other_location}
        # Asking for another tenant's row by its key finds nothing, as if it did not exist.
        assert not Customer.objects.filter(pk=tenant_b.customer.pk).exists()
        # Related managers go through the scope too.
        assert tenant_b.organization.locations.count() == 0


def test_organization_pages_resolve_the_tenant_from_the_url(tenant_a, tenant_b, client):
    # given something to book at every location: the landing page lists only those
    for tenant in (tenant_a, tenant_b):
        bays = [
            ResourceFactory(location=place) for place in (tenant.location, tenant.other_location)
        ]
        ServiceFactory(organization=tenant.organization, resources=bays)
    response = client.get(reverse("pages:home", args=[tenant_a.organization.slug]))
    assert response.status_code == 200
    body = response.content.decode()
    assert tenant_a.location.name in body and tenant_a.other_location.name in body
    assert tenant_b.location.name not in body


def test_an_unknown_organization_is_a_404(db, client):
    assert client.get("/no-such-organization/").status_code == 404


def test_the_platform_home_lists_organizations(tenant_a, tenant_b, client):
    body = client.get(reverse("platform-home")).content.decode()
    assert tenant_a.organization.name in body and tenant_b.organization.name in body


@shared_task(base=OrganizationTask)
def location_names(*, organization_id: int) -> list[str]:
    return sorted(Location.objects.values_list("name", flat=True))


def test_a_task_runs_in_the_scope_of_the_organization_it_is_given(tenant_a, tenant_b):
    # .apply() runs the task body the way a worker does, with no scope of the caller's around it.
    result = location_names.apply(kwargs={"organization_id": tenant_b.organization.pk}).get()
    assert result == sorted([tenant_b.location.name, tenant_b.other_location.name])


def test_a_task_without_an_organization_is_refused(tenant_a):
    with pytest.raises(TypeError, match="organization_id"):
        location_names.apply(kwargs={}, throw=True).get()


def test_a_task_does_not_inherit_a_callers_disabled_scope(tenant_a, tenant_b):
    with scopes_disabled():
        result = location_names.apply(kwargs={"organization_id": tenant_a.organization.pk}).get()
    assert tenant_b.location.name not in result
