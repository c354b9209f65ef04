"""The admin permission matrix: every role of organization A against A's and B's objects."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Customer, Location, Membership, Organization

ROLES = ("owner", "manager", "staff")

# (model, page, target) -> expected status for (owner, manager, staff) of organization A.
# Targets: "own" is A's object at the manager's and staff member's location, "own_elsewhere" is
# A's object at A's other location, "other" is organization B's object.
MATRIX: dict[tuple[str, str, str | None], tuple[int, int, int]] = {
    ("organization", "changelist", None): (200, 200, 200),
    ("organization", "change", "own"): (200, 200, 200),
    ("organization", "change", "other"): (404, 404, 404),
    ("organization", "save", "own"): (302, 403, 403),
    ("organization", "save", "other"): (404, 404, 404),
    ("organization", "add", None): (403, 403, 403),
    ("organization", "delete", "own"): (403, 403, 403),
    ("organization", "delete", "other"): (404, 404, 404),
    ("location", "changelist", None): (200, 200, 200),
    ("location", "change", "own"): (200, 200, 200),
    ("location", "change", "own_elsewhere"): (200, 404, 404),
    ("location", "change", "other"): (404, 404, 404),
    ("location", "save", "own"): (302, 302, 403),
    ("location", "save", "own_elsewhere"): (302, 404, 404),
    ("location", "save", "other"): (404, 404, 404),
    ("location", "add", None): (200, 403, 403),
    ("location", "delete", "own"): (200, 403, 403),
    ("location", "delete", "other"): (404, 404, 404),
    ("membership", "changelist", None): (200, 200, 403),
    ("membership", "change", "own"): (200, 200, 404),
    ("membership", "change", "other"): (404, 404, 404),
    ("membership", "save", "own"): (302, 403, 404),
    ("membership", "save", "other"): (404, 404, 404),
    ("membership", "add", None): (200, 403, 403),
    ("membership", "delete", "own"): (200, 403, 404),
    ("membership", "delete", "other"): (404, 404, 404),
    ("customer", "changelist", None): (200, 200, 200),
    ("customer", "change", "own"): (200, 200, 200),
    ("customer", "change", "other"): (404, 404, 404),
    ("customer", "save", "own"): (302, 302, 403),
    ("customer", "save", "other"): (404, 404, 404),
    ("customer", "add", None): (200, 200, 403),
    ("customer", "delete", "own"): (200, 403, 403),
    ("customer", "delete", "other"): (404, 404, 404),
}

CASES = [
    pytest.param(model, page, target, role, statuses[i], id=f"{model}-{page}-{target}-{role}")
    for (model, page, target), statuses in MATRIX.items()
    for i, role in enumerate(ROLES)
]


def target_object(model: str, target: str, tenant_a, tenant_b):
    tenant = tenant_b if target == "other" else tenant_a
    return {
        "organization": tenant.organization,
        "location": tenant.other_location if target == "own_elsewhere" else tenant.location,
        "membership": tenant.manager_membership,
        "customer": tenant.customer,
    }[model]


def admin_url(model: str, page: str, obj=None) -> str:
    if page in ("changelist", "add"):
        return reverse(f"admin:accounts_{model}_{page}")
    view = "change" if page == "save" else page
    return reverse(f"admin:accounts_{model}_{view}", args=[obj.pk])


# A valid change form for each model, and the field whose new value shows the save happened.
def change_form(obj) -> tuple[dict, str, str]:
    if isinstance(obj, Organization):
        data = {
            "name": "Renamed",
            "time_zone": "Europe/Helsinki",
            "currency": "EUR",
            "cancellation_cutoff": "24:00:00",
            "reminder_lead_time": "24:00:00",
            "brand_color": "#0b57d0",
        }
        return data, "name", "Renamed"
    if isinstance(obj, Location):
        data = {
            "name": "Renamed",
            "slug": obj.slug,
            "time_zone": "Europe/Helsinki",
            "street_address": "Street 1",
            "postal_code": "00100",
            "city": "Helsinki",
            "country": "FI",
        }
        return data, "name", "Renamed"
    if isinstance(obj, Membership):
        return {"role": "staff"}, "role", "staff"
    if isinstance(obj, Customer):
        return {"full_name": "Renamed", "email": obj.email}, "full_name", "Renamed"
    raise AssertionError(obj)


@pytest.mark.parametrize(("model", "page", "target", "role", "expected"), CASES)
def test_admin_permission_matrix(
    model, page, target, role, expected, tenant_a, tenant_b, client_for
):
    client = client_for(tenant_a.user(role))
    obj = target_object(model, target, tenant_a, tenant_b) if target else None
    url = admin_url(model, page, obj)

    if page == "save":
        data, field, new_value = change_form(obj)
        response = client.post(url, data)
        with scopes_disabled():
            obj.refresh_from_db()
        saved = getattr(obj, field) == new_value
        assert saved == (expected == 302), f"saved={saved} with status {response.status_code}"
    else:
        response = client.get(url)

    assert response.status_code == expected


@pytest.mark.parametrize("role", ["customer", None])
@pytest.mark.parametrize("model", ["organization", "location", "membership", "customer"])
def test_people_without_a_staff_role_are_sent_to_the_login(model, role, tenant_a, client_for):
    user = tenant_a.user(role) if role else None
    response = client_for(user).get(admin_url(model, "changelist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_a_customer_cannot_sign_in_to_the_admin(tenant_a, client_for):
    response = client_for(None).post(
        reverse("admin:login"), {"username": tenant_a.customer_user.email, "password": "password"}
    )
    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in response.client.session


def test_the_admin_login_page_is_served(db, client_for):
    response = client_for(None).get(reverse("admin:login"))
    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()


def test_staff_sign_in_to_the_admin(tenant_a, client_for):
    response = client_for(None).post(
        reverse("admin:login"), {"username": tenant_a.staff.email.upper(), "password": "password"}
    )
    assert response.status_code == 302
    assert response.client.session["_auth_user_id"] == str(tenant_a.staff.pk)


@pytest.mark.parametrize("model", ["organization", "location", "membership", "customer"])
def test_platform_admin_sees_every_organization(
    model, tenant_a, tenant_b, platform_admin, client_for
):
    client = client_for(platform_admin)
    listed = set(client.get(admin_url(model, "changelist")).context["cl"].result_list)
    for tenant in (tenant_a, tenant_b):
        obj = target_object(model, "own", tenant, tenant)
        assert obj in listed
        assert client.get(admin_url(model, "change", obj)).status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_only_platform_admins_manage_user_accounts(role, tenant_a, platform_admin, client_for):
    url = reverse("admin:accounts_user_changelist")
    assert client_for(tenant_a.user(role)).get(url).status_code == 403
    change = reverse("admin:accounts_user_change", args=[tenant_a.owner.pk])
    assert client_for(tenant_a.user(role)).get(change).status_code == 403
    assert client_for(platform_admin).get(url).status_code == 200
