"""The replica router's rules (config/replicas.py), decided in-process. Which replica exists and
whether it is healthy are set here; tests/scaling/test_replicas.py runs the same rules against
a real streaming replica."""

import pytest
from django.db import transaction
from django.http import HttpResponse
from django.test import RequestFactory

from accounts.models import Organization
from config import replicas
from tests.factories import UserFactory


@pytest.fixture
def one_replica(monkeypatch):
    state = {"healthy": True}
    monkeypatch.setattr(replicas, "replica_aliases", lambda: ["replica1"])
    monkeypatch.setattr(replicas, "replica_is_healthy", lambda alias: state["healthy"])
    return state


def route(request=None) -> str | None:
    token = replicas._request.set(request)
    try:
        return replicas.on_replica(lambda: replicas.ReplicaRouter().db_for_read(Organization))
    finally:
        replicas._request.reset(token)


@pytest.mark.django_db(transaction=True)
def test_marked_reads_go_to_a_healthy_replica(one_replica):
    assert route() == "replica1"


@pytest.mark.django_db(transaction=True)
def test_reads_not_marked_stay_on_the_primary(one_replica):
    assert replicas.ReplicaRouter().db_for_read(Organization) is None


def test_with_no_replica_configured_nothing_is_routed():
    assert route() is None


@pytest.mark.django_db(transaction=True)
def test_a_read_inside_a_transaction_stays_on_the_primary(one_replica):
    with transaction.atomic():
        assert route() is None


@pytest.mark.django_db(transaction=True)
def test_an_unhealthy_replica_is_skipped(one_replica):
    one_replica["healthy"] = False
    assert route() is None


@pytest.mark.django_db(transaction=True)
def test_a_client_that_wrote_reads_from_the_primary(one_replica, settings):
    settings.DATABASE_REPLICA_URLS = ["postgres://replica"]  # the middleware acts only with one
    user = UserFactory()
    post = RequestFactory().post("/api/v1/organizations/x/bookings/")
    post.user = user
    middleware = replicas.ReadYourWritesMiddleware(lambda request: _created())
    answer = middleware(post)

    # A browser keeps the cookie, and an API client's user is pinned in the cache.
    window = settings.DATABASE_READ_YOUR_WRITES_SECONDS
    assert answer.cookies[replicas.PIN_COOKIE]["max-age"] == window
    by_cookie = RequestFactory().get("/", HTTP_COOKIE=f"{replicas.PIN_COOKIE}=1")
    by_cookie.user = UserFactory()
    assert route(by_cookie) is None
    by_user = RequestFactory().get("/")
    by_user.user = user
    assert route(by_user) is None
    someone_else = RequestFactory().get("/")
    someone_else.user = UserFactory()
    assert route(someone_else) == "replica1"


def test_writes_and_migrations_are_the_primary_s():
    router = replicas.ReplicaRouter()
    assert router.db_for_write(Organization) == "default"
    assert router.allow_migrate("default", "bookings") is True
    assert router.allow_migrate("replica1", "bookings") is False


def _created() -> HttpResponse:
    return HttpResponse(status=201)
