"""The test suite: `make test`."""

from config.settings.base import *  # noqa: F403
from config.settings.base import database_from_environment, replica_databases

DATABASES = {
    "default": database_from_environment(embedded_fallback=True),
    **replica_databases(),
}
# Hashing strength is not under test; a fast hasher keeps the suite quick.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks run in-process even when CI provides a broker; the worker test starts a real worker.
CELERY_TASK_ALWAYS_EAGER = True
# Keys of the test run never meet a development server's in a shared Redis.
CACHES["default"]["KEY_PREFIX"] = "booking-test"  # noqa: F405
# Tests that are about throttling set their own rates; the rest must never be throttled.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {  # noqa: F405
    scope: "100000/min"
    for scope in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]  # noqa: F405
}
