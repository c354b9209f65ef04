import hashlib
import math

from django.http import HttpRequest

from config.api.throttling import SimpleRateThrottle


class FailedLoginThrottle(SimpleRateThrottle):
    """Limits failed sign-ins per client address and email; successful ones use up nothing.

    Keyed by both, so people behind one shared address do not lock each other out; guessing
    across many emails from one address is held back by the anonymous throttle.

    DRF's throttles count every request they allow, so this one only checks the history, and the
    view adds to it with `record_failure` when the password was wrong.
    """

    scope = "failed_login"

    def get_cache_key(self, request, view) -> str:
        email = request.data.get("email", "") if isinstance(request.data, dict) else ""
        digest = hashlib.sha256(str(email).strip().lower().encode()).hexdigest()[:32]
        return self.cache_format % {
            "scope": self.scope,
            "ident": f"{self.get_ident(request)}:{digest}",
        }

    def throttle_success(self) -> bool:
        return True

    @classmethod
    def record_failure(cls, request, view) -> None:
        throttle = cls()
        throttle.allow_request(request, view)  # loads the history still inside the window
        throttle.history.insert(0, throttle.now)
        throttle.cache.set(throttle.key, throttle.history, throttle.duration)


class FailedPasswordCheckThrottle(FailedLoginThrottle):
    """Limits wrong current passwords of a signed-in user (password change, deletion), so a
    stolen token cannot be used to guess the password. Counts with the failed sign-ins' rate."""

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": f"user:{request.user.pk}"}


class AccountEmailThrottle(SimpleRateThrottle):
    """Limits the reset and verification emails asked for one address, by anyone and whether
    or not it has an account (so the limit tells nothing either): no inbox gets flooded."""

    scope = "account_email"

    def get_cache_key(self, request, view) -> str:
        if request.user and request.user.is_authenticated:
            email = request.user.email
        else:
            email = request.data.get("email", "") if isinstance(request.data, dict) else ""
        return self.key_for(email)

    def key_for(self, email: str) -> str:
        digest = hashlib.sha256(str(email).strip().lower().encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}


class PageAccountEmailThrottle(AccountEmailThrottle):
    """The same count for an email asked on a page form (the admin's password reset), so the
    API and the page together send an address no more than the rate."""

    def __init__(self, email: str) -> None:
        self.email = email
        super().__init__()

    def get_cache_key(self, request, view) -> str:
        return self.key_for(self.email)


def account_email_wait(request: HttpRequest, email: str) -> int | None:
    """Counts one email to `email` asked on a page; None if allowed, else seconds to wait."""
    throttle = PageAccountEmailThrottle(email)
    if throttle.allow_request(request, None):
        return None
    return max(1, math.ceil(throttle.wait() or 1))
