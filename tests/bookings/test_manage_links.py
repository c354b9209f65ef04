"""Signed manage links: they open their own booking at their own organization, until they expire."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import signing
from django_scopes import scope

from bookings.manage_links import (
    SALT,
    ManageLinkRefused,
    booking_for_manage_token,
    manage_token,
)
from tests.scenarios import CarWash, book

NOT_VALID = "This link is not valid. Check that it was copied whole."


def open_at(organization, token: str):
    """What the manage page does: look the token up inside the URL's organization scope."""
    with scope(organization=organization):
        return booking_for_manage_token(token, organization=organization)


@pytest.fixture
def booking(wash):
    with scope(organization=wash.organization):
        return book(wash)


@pytest.fixture
def other(db) -> CarWash:
    """A second business with the same shape as the `wash` fixture, in its own organization."""
    return CarWash("Other", "other-wash")


@pytest.fixture
def other_booking(other):
    with scope(organization=other.organization):
        return book(other)


def test_a_fresh_token_opens_its_booking(wash, booking):
    assert open_at(wash.organization, manage_token(booking)) == booking


def test_a_token_works_until_its_max_age_and_then_is_refused_as_expired(wash, booking, fixed_now):
    token = manage_token(booking)
    max_age = settings.BOOKING_MANAGE_LINK_MAX_AGE
    assert max_age > timedelta(days=1)

    with time_machine.travel(fixed_now + max_age - timedelta(minutes=1), tick=False):
        assert open_at(wash.organization, token) == booking
    with (
        time_machine.travel(fixed_now + max_age + timedelta(seconds=1), tick=False),
        pytest.raises(ManageLinkRefused) as refused,
    ):
        open_at(wash.organization, token)
    assert "expired" in refused.value.message


def _altered(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


@pytest.mark.parametrize(
    "part",
    [
        pytest.param(0, id="payload"),
        pytest.param(1, id="timestamp"),
        pytest.param(2, id="signature"),
    ],
)
@pytest.mark.parametrize("position", [0, -1])
def test_an_altered_token_is_refused(wash, booking, part, position):
    token = manage_token(booking)
    parts = token.split(":")
    assert len(parts) == 3  # payload:timestamp:signature
    parts[part] = _altered(parts[part], position)
    altered = ":".join(parts)
    assert altered != token

    with pytest.raises(ManageLinkRefused) as refused:
        open_at(wash.organization, altered)
    assert refused.value.message == NOT_VALID


def test_a_payload_moved_under_another_tokens_signature_is_refused(
    wash, booking, other, other_booking
):
    # given the signed part of one token and the payload of another
    mine, theirs = manage_token(booking).split(":"), manage_token(other_booking).split(":")
    forged = ":".join([theirs[0], *mine[1:]])

    with pytest.raises(ManageLinkRefused):
        open_at(other.organization, forged)
    with pytest.raises(ManageLinkRefused):
        open_at(wash.organization, forged)


def test_a_token_signed_with_another_key_or_salt_is_refused(wash, booking):
    payload = {"booking": booking.pk, "organization": wash.organization.pk}
    assert open_at(wash.organization, signing.dumps(payload, salt=SALT)) == booking
    for forged in (
        signing.dumps(payload, salt="another purpose"),
        signing.dumps(payload, salt=SALT, key="not the secret key"),
    ):
        with pytest.raises(ManageLinkRefused) as refused:
            open_at(wash.organization, forged)
        assert refused.value.message == NOT_VALID


def test_a_token_of_one_organization_is_refused_at_another(wash, booking, other, other_booking):
    with pytest.raises(ManageLinkRefused) as refused:
        open_at(other.organization, manage_token(booking))
    assert refused.value.message == NOT_VALID
    # and the other way round
    with pytest.raises(ManageLinkRefused):
        open_at(wash.organization, manage_token(other_booking))


def test_a_validly_signed_claim_to_another_organizations_booking_is_refused(
    wash, booking, other, other_booking
):
    # A token that names B as its organization but A's booking: even if one were ever signed,
    # B must not see A's booking.
    crossed = signing.dumps(
        {"booking": booking.pk, "organization": other.organization.pk}, salt=SALT
    )
    with pytest.raises(ManageLinkRefused) as refused:
        open_at(other.organization, crossed)
    assert refused.value.message == NOT_VALID


def test_a_token_for_a_booking_that_is_gone_is_refused(wash):
    token = signing.dumps({"booking": 10**9, "organization": wash.organization.pk}, salt=SALT)
    with pytest.raises(ManageLinkRefused) as refused:
        open_at(wash.organization, token)
    assert refused.value.message == NOT_VALID


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "x",
        "not-a-token",
        "a:b",
        "a:b:c",
        ":::",
        "eyJib29raW5nIjoxfQ:1abcde:" + "A" * 43,
        "ä€🙂:ö:ü",
        "%00",
        "x" * 5000,
    ],
)
def test_garbage_is_refused(wash, booking, garbage):
    with pytest.raises(ManageLinkRefused) as refused:
        open_at(wash.organization, garbage)
    assert refused.value.message == NOT_VALID


def test_a_signed_value_that_is_not_a_manage_payload_is_refused(wash, booking):
    for payload in ([booking.pk, wash.organization.pk], "booking", {"booking": booking.pk}):
        with pytest.raises(ManageLinkRefused):
            open_at(wash.organization, signing.dumps(payload, salt=SALT))
