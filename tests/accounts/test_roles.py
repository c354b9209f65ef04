"""The roles module on its own: has_perm per object, querysets, and users with several roles."""

import pytest
from django_scopes import scopes_disabled

from accounts import roles
from accounts.models import Customer, Location, Organization, Role
from tests.factories import MembershipFactory


@pytest.mark.django_db
def test_every_role_grant_names_a_real_permission():
    # A typo in the table would silently grant nothing; Django's own names keep them checkable.
    from django.contrib.auth.models import Permission

    known = {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.all()}
    for role, perms in roles.ROLE_PERMISSIONS.items():
        assert perms <= known, (role, perms - known)


@pytest.mark.django_db
def test_roles_are_ordered_by_power():
    owner, manager, staff = (
        roles.ROLE_PERMISSIONS[r] for r in (Role.OWNER, Role.MANAGER, Role.STAFF)
    )
    assert staff < manager < owner


def test_permissions_hold_only_in_the_users_own_organization(tenant_a, tenant_b):
    owner = tenant_a.owner
    assert owner.has_perm("accounts.change_location", tenant_a.location)
    assert not owner.has_perm("accounts.change_location", tenant_b.location)
    assert not owner.has_perm("accounts.view_organization", tenant_b.organization)


def test_a_limited_manager_is_limited_for_location_rows_only(tenant_a):
    manager = tenant_a.manager
    assert manager.has_perm("accounts.change_location", tenant_a.location)
    assert not manager.has_perm("accounts.change_location", tenant_a.other_location)
    # Customers belong to the whole organization, not to a location.
    assert manager.has_perm("accounts.change_customer", tenant_a.customer)


def test_permitted_narrows_querysets_like_has_perm(tenant_a, tenant_b):
    with scopes_disabled():
        locations = roles.permitted(
            tenant_a.manager, "accounts.view_location", Location.objects.all()
        )
        assert list(locations) == [tenant_a.location]
        customers = roles.permitted(
            tenant_a.staff, "accounts.view_customer", Customer.objects.all()
        )
        assert list(customers) == [tenant_a.customer]
        assert not roles.permitted(
            tenant_a.staff, "accounts.delete_customer", Customer.objects.all()
        ).exists()
        organizations = roles.permitted(
            tenant_a.owner, "accounts.change_organization", Organization.objects.all()
        )
        assert list(organizations) == [tenant_a.organization]


def test_one_user_with_different_roles_in_two_organizations(tenant_a, tenant_b):
    user = tenant_a.owner
    MembershipFactory(organization=tenant_b.organization, user=user, role=Role.STAFF)
    user = type(user).objects.get(pk=user.pk)  # grants are cached per user object
    assert user.has_perm("accounts.change_customer", tenant_a.customer)
    assert user.has_perm("accounts.view_customer", tenant_b.customer)
    assert not user.has_perm("accounts.change_customer", tenant_b.customer)


def test_platform_admin_has_every_permission_everywhere(tenant_a, tenant_b, platform_admin):
    assert platform_admin.has_perm("accounts.delete_organization", tenant_b.organization)
    with scopes_disabled():
        assert (
            roles.permitted(
                platform_admin, "accounts.view_location", Location.objects.all()
            ).count()
            == 4
        )


def test_customers_and_inactive_members_have_no_staff_permissions(tenant_a):
    assert not roles.can_access_admin(tenant_a.customer_user)
    assert not tenant_a.customer_user.has_perm("accounts.view_customer", tenant_a.customer)
    owner = tenant_a.owner
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    owner = type(owner).objects.get(pk=owner.pk)
    assert not roles.can_access_admin(owner)
    assert not owner.has_perm("accounts.view_customer", tenant_a.customer)
