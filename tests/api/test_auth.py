"""Tokens for the apps: sign-in, sign-up, list, revoke, log out; throttles backed by the cache."""

from datetime import timedelta

import pytest
from django.utils import timezone
from knox.models import AuthToken

from accounts.tasks import expired_tokens_purge
from tests.factories import UserFactory

TOKEN = "/api/v1/auth/token/"


def sign_in(client, email: str, password: str = "password"):
    return client.post(TOKEN, {"email": email, "password": password})


def with_token(api, token: str):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def user(db):
    return UserFactory(email="ann@example.com")


def test_a_token_from_email_and_password_signs_requests_in(user, api):
    response = sign_in(api(), "Ann@Example.com")

    assert response.status_code == 201
    me = with_token(api, response.json()["token"]).get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["email"] == "ann@example.com"


def test_a_wrong_password_gets_no_token(user, api):
    response = sign_in(api(), "ann@example.com", "wrong")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert not AuthToken.objects.exists()


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer", "Bearer a b", b"Bearer \xff\xfe"])
def test_a_bad_bearer_header_answers_401(user, api, header):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/me/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_tokens_are_listed_and_revoked_one_by_one(user, api):
    phone = sign_in(api(), user.email).json()
    tablet = sign_in(api(), user.email).json()
    client = with_token(api, phone["token"])

    listed = client.get("/api/v1/auth/tokens/").json()["results"]
    assert {t["token_key"]: t["current"] for t in listed} == {
        phone["token_key"]: True,
        tablet["token_key"]: False,
    }

    assert client.delete(f"/api/v1/auth/tokens/{tablet['token_key']}/").status_code == 204
    assert with_token(api, tablet["token"]).get("/api/v1/me/").status_code == 401
    assert client.get("/api/v1/me/").status_code == 200


def test_another_users_token_cannot_be_revoked(user, api):
    mine = sign_in(api(), user.email).json()
    theirs = AuthToken.objects.create(user=UserFactory())[0]

    response = with_token(api, mine["token"]).delete(f"/api/v1/auth/tokens/{theirs.token_key}/")

    assert response.status_code == 404
    assert AuthToken.objects.filter(pk=theirs.pk).exists()


def test_logout_revokes_the_token_of_the_request(user, api):
    client = with_token(api, sign_in(api(), user.email).json()["token"])

    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get("/api/v1/me/").status_code == 401


def test_sign_up_creates_a_customer_account_and_signs_it_in(db, api):
    response = api().post(
        "/api/v1/auth/signup/",
        {"email": "New@Example.com", "password": "a long passphrase 42", "full_name": "New Person"},
    )

    assert response.status_code == 201
    assert response.json()["user"]["email"] == "new@example.com"
    assert response.json()["user"]["memberships"] == []
    assert with_token(api, response.json()["token"]).get("/api/v1/me/").status_code == 200


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        ("ann@example.com", "a long passphrase 42", "email"),  # taken
        ("fresh@example.com", "123", "password"),  # too short and numeric
        ("not-an-email", "a long passphrase 42", "email"),
    ],
)
def test_sign_up_refuses_bad_input_by_field(user, api, email, password, field):
    response = api().post(
        "/api/v1/auth/signup/", {"email": email, "password": password, "full_name": "X"}
    )

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_me_lists_the_organizations_a_member_works_for(alpha, api):
    me = api(alpha.manager).get("/api/v1/me/").json()
    assert [(m["organization"], m["role"]) for m in me["memberships"]] == [("alpha", "manager")]


def test_failed_sign_ins_are_throttled_but_successful_ones_are_not_counted(user, api, rates):
    rates(failed_login="3/hour")
    for _ in range(5):
        assert sign_in(api(), user.email).status_code == 201
    for _ in range(3):
        assert sign_in(api(), user.email, "wrong").status_code == 400

    locked = sign_in(api(), user.email)  # even the right password must wait now

    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "throttled"
    assert int(locked.headers["Retry-After"]) > 0


def test_failed_sign_ins_for_one_email_do_not_lock_out_another(user, api, rates):
    rates(failed_login="2/hour")
    neighbour = UserFactory(email="bob@example.com")
    for _ in range(2):
        sign_in(api(), user.email, "wrong")
    assert sign_in(api(), user.email).status_code == 429

    assert sign_in(api(), neighbour.email).status_code == 201


def test_malformed_sign_ins_are_not_counted_as_failures(user, api, rates):
    rates(failed_login="1/hour")
    for _ in range(3):
        assert api().post(TOKEN, {"email": "not an email"}).status_code == 400

    assert sign_in(api(), user.email).status_code == 201


def test_anonymous_clients_are_throttled(alpha, api, rates):
    rates(anon="2/min")
    client = api()
    statuses = [client.get("/api/v1/organizations/alpha/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_booking_creation_has_its_own_tighter_throttle(alpha, api, rates):
    rates(booking_create="1/hour")
    client = api(alpha.customer_user)
    body = {"service": alpha.service.pk, "location": alpha.location.pk}

    first = client.post(
        "/api/v1/organizations/alpha/bookings/", {**body, "starts_at": "2030-01-07T12:00:00+02:00"}
    )
    second = client.post(
        "/api/v1/organizations/alpha/bookings/", {**body, "starts_at": "2030-01-07T13:00:00+02:00"}
    )

    assert first.status_code == 201
    assert second.status_code == 429
    assert client.get("/api/v1/me/bookings/").status_code == 200  # other endpoints still answer


def test_an_unknown_organization_answers_404_in_the_api_format(db, api):
    response = api().get("/api/v1/organizations/nobody/services/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_hourly_purge_deletes_expired_tokens_and_keeps_live_ones(db):
    user = UserFactory()
    expired, _ = AuthToken.objects.create(user=user, expiry=timedelta(days=1))
    live, _ = AuthToken.objects.create(user=user, expiry=timedelta(days=1))
    AuthToken.objects.filter(pk=expired.pk).update(expiry=timezone.now() - timedelta(seconds=1))

    assert expired_tokens_purge.delay().get() == 1
    assert list(AuthToken.objects.filter(user=user)) == [live]
