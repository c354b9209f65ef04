"""Production: secrets have no default, so a missing one stops the process at start-up."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    blind_index_key_checked,
    database_from_environment,
    env,
    fernet_keys_checked,
    networks_checked,
    replica_databases,
)

SECRET_KEY = env("DJANGO_SECRET_KEY")
# The personal data's keys (config/encryption.py): none derived here, a missing one stops start-up.
FIELD_ENCRYPTION_KEYS = fernet_keys_checked(env.list("FIELD_ENCRYPTION_KEYS"))
BLIND_INDEX_KEY = blind_index_key_checked(env("BLIND_INDEX_KEY"))
DEBUG = False
DATABASES = {
    "default": database_from_environment(embedded_fallback=False),
    **replica_databases(),
}
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
# The local fallbacks of base.py (per-process cache, eager tasks) are wrong for a deployment.
if not REDIS_URL or not CELERY_BROKER_URL:  # noqa: F405
    raise ImproperlyConfigured("Production needs REDIS_URL and CELERY_BROKER_URL.")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
# Every subdomain is https too, and the domain may go on the browsers' preload list; a
# deployment that still serves a subdomain over http turns these off.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True

# Static files served by the app itself (WhiteNoise, right after SecurityMiddleware): compressed,
# with content-hashed names cached for a year; `collectstatic` writes them (make serve does).
MIDDLEWARE = MIDDLEWARE.copy()  # noqa: F405
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# /metrics: nobody unless allowed (METRICS_ALLOWED_IPS networks or METRICS_BEARER_TOKEN).
METRICS_ALLOWED_IPS = networks_checked(env.list("METRICS_ALLOWED_IPS", default=[]))
