"""Settings shared by every environment, read from the environment with django-environ.

Each optional service falls back to something that needs no installation, so a fresh clone runs
with nothing configured: no DATABASE_URL -> embedded PostgreSQL, no REDIS_URL -> local-memory
cache, no CELERY_BROKER_URL -> tasks run eagerly in-process. `.env.example` lists every variable.
"""

from datetime import timedelta
from pathlib import Path

import environ

from config.database import connection_options
from config.embedded_postgres import embedded_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-development-key-do-not-deploy")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "accounts.apps.PlatformAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_prometheus",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "phonenumber_field",
    "config.api",
    "accounts",
    "fleet",
    "bookings",
    "analytics",
    "config.demo",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A lost connection retried once for reads; a lock or statement timeout answered 503.
    "config.database.DatabaseFaultMiddleware",
    # 400 for a NUL or lone surrogate anywhere in the request, before anything reaches PostgreSQL.
    "config.api.storable.StorableTextMiddleware",
    # ETag and 304 for every GET: a polling app re-downloads availability only when it changed.
    "django.middleware.http.ConditionalGetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The tenant wall: after authentication, because the admin's scope is the user's organizations.
    "accounts.tenancy.TenantScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.tenancy.current_organization",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
EMBEDDED_POSTGRES_DIR = BASE_DIR / ".pgdata"
# Seconds. A request's statement runs at most DATABASE_STATEMENT_TIMEOUT and waits for a lock at
# most DATABASE_LOCK_TIMEOUT, then answers 503 database_busy (config/database.py), so one held
# lock never freezes every worker. Gunicorn's timeout must stay above the statement timeout
# (config/gunicorn.conf.py refuses to start otherwise). Tasks and commands that need longer take
# config.database.task_statement_budget; `migrate` runs without a statement timeout.
DATABASE_STATEMENT_TIMEOUT = env.float("DATABASE_STATEMENT_TIMEOUT", default=10.0)
DATABASE_LOCK_TIMEOUT = env.float("DATABASE_LOCK_TIMEOUT", default=3.0)
# Behind PgBouncer in transaction mode startup options are dropped: set the timeouts on the role
# instead (docs/operations.md) and say so here, so the options are not sent at all.
DATABASE_POOLED = env.bool("DATABASE_POOLED", default=False)


def database_from_environment(*, embedded_fallback: bool) -> dict:
    """The default database from DATABASE_URL, with persistent, health-checked connections.

    Without DATABASE_URL, development and tests start an embedded PostgreSQL
    (config/embedded_postgres.py); production refuses to start.
    """
    url = env("DATABASE_URL", default=None)
    if url is None and embedded_fallback:
        url = embedded_database_url(EMBEDDED_POSTGRES_DIR)
    elif url is None:
        url = env("DATABASE_URL")  # raises ImproperlyConfigured naming the variable
    settings = env.db_url_config(url)
    settings["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    settings["CONN_HEALTH_CHECKS"] = True
    # PostgreSQL's JIT spends seconds compiling the reporting queries to save milliseconds (the
    # demo's analytics_resource_day refresh: 1.8 s with it, 19 ms without); nothing here gains.
    options = settings.setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()
    if not DATABASE_POOLED:
        timeouts = connection_options(
            statement_timeout=DATABASE_STATEMENT_TIMEOUT, lock_timeout=DATABASE_LOCK_TIMEOUT
        )
        options["options"] = f"{options['options']} {timeouts}"
    return settings


DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default=None)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # A down Redis must not hang requests: fail fast, then fall back to the database.
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
                "IGNORE_EXCEPTIONS": True,
            },
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="booking"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# When Redis is down, callers get a miss (and compute from the database); each failure is logged.
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=None)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
# Without a broker, tasks run in-process at .delay() so the platform still works end to end.
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
if CELERY_TASK_ALWAYS_EAGER:
    CELERY_BROKER_URL = "memory://"  # never used; it keeps kombu from looking for a server
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
# With acks_late, a worker that loses the broker stops its running tasks, which the broker
# redelivers, instead of finishing them unacknowledged and running them twice.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Redis redelivers an unacknowledged task after this many seconds (RabbitMQ: when the worker's
# connection drops). Longer than the hard time limit, so a running task is never handed out twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "send-lost-outbox-emails": {
        "task": "bookings.tasks.outbox_sweep",
        "schedule": timedelta(minutes=1),
    },
    "send-lost-account-emails": {
        "task": "accounts.tasks.account_outbox_sweep",
        "schedule": timedelta(minutes=1),
    },
    "queue-booking-reminders": {
        "task": "bookings.tasks.booking_reminders_schedule",
        "schedule": timedelta(minutes=env.int("BOOKING_REMINDER_CHECK_MINUTES", default=5)),
    },
    "purge-expired-idempotency-records": {
        "task": "config.api.tasks.idempotency_records_purge",
        "schedule": timedelta(hours=1),
    },
    # Past days in the dashboard are at most this old; today is always live (analytics/figures.py).
    "refresh-analytics-views": {
        "task": "analytics.tasks.analytics_views_refresh",
        "schedule": timedelta(minutes=env.int("ANALYTICS_REFRESH_MINUTES", default=15)),
    },
}

# --- Email --------------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="bookings@localhost")
if EMAIL_URL := env("EMAIL_URL", default=""):
    # smtp://user:password@host:587 and friends set EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT...
    globals().update(env.email_url_config(EMAIL_URL))
# A provider's API instead of SMTP: EMAIL_BACKEND=anymail.backends.<provider>.EmailBackend
# with its keys in ANYMAIL_* variables (ANYMAIL_MAILGUN_API_KEY...), see django-anymail.
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in env.ENVIRON.items()
    if key.startswith("ANYMAIL_")
}
# Customer emails are retried with exponential backoff (seconds), then marked failed.
EMAIL_MAX_RETRIES = env.int("EMAIL_MAX_RETRIES", default=8)
EMAIL_RETRY_BACKOFF_SECONDS = env.int("EMAIL_RETRY_BACKOFF_SECONDS", default=30)
EMAIL_RETRY_BACKOFF_MAX_SECONDS = env.int("EMAIL_RETRY_BACKOFF_MAX_SECONDS", default=3600)

# --- Booking pages ------------------------------------------------------------------------------
# The address customers reach the platform at: emails are sent without a request to take it from.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
# How long the manage link of a booking email works; every email carries a fresh one.
BOOKING_MANAGE_LINK_MAX_AGE = timedelta(
    days=env.int("BOOKING_MANAGE_LINK_MAX_AGE_DAYS", default=60)
)

# --- Auth ---------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# How long a sign-up's email verification link works. Password reset links use Django's
# PASSWORD_RESET_TIMEOUT (3 days), as do the staff invitations built on them.
ACCOUNT_EMAIL_VERIFICATION_MAX_AGE = timedelta(
    days=env.int("ACCOUNT_EMAIL_VERIFICATION_MAX_AGE_DAYS", default=7)
)
# Sign-in by email; permissions from roles only (accounts/roles.py).
AUTHENTICATION_BACKENDS = ["accounts.roles.RoleBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# --- REST API (/api/v1/, config/api/) ---------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["config.api.storable.TolerantJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.api.storable.StrictJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.errors.exception_handler",
    # Counters live in the cache: Redis when REDIS_URL is set, so every process shares them.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="120/min"),
        "user": env("API_THROTTLE_USER", default="600/min"),
        "booking_create": env("API_THROTTLE_BOOKING_CREATE", default="20/hour"),
        "failed_login": env("API_THROTTLE_FAILED_LOGIN", default="10/hour"),
        # Reset and verification emails per address, whoever asks: no inbox gets flooded.
        "account_email": env("API_THROTTLE_ACCOUNT_EMAIL", default="5/hour"),
    },
    # 0: the client is REMOTE_ADDR (X-Forwarded-For can be forged); set to the number of proxies.
    "NUM_PROXIES": env.int("API_NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Bearer",
    "TOKEN_TTL": timedelta(days=env.int("API_TOKEN_TTL_DAYS", default=30)),
    # Each use pushes the expiry forward (written at most hourly), so an app in use stays signed in.
    "AUTO_REFRESH": True,
    "MIN_REFRESH_INTERVAL": 3600,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Booking platform API",
    "DESCRIPTION": (
        "Book car washes, rentals and appointments. Sign in with POST /api/v1/auth/token/ and "
        "send `Authorization: Bearer <token>`. Every error has the same body: "
        '`{"error": {"code", "message", "details"}}`. POSTs that create or change a '
        "booking accept an `Idempotency-Key` header so a retry never books twice."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page's assets are served from here, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "DEFAULT_GENERATOR_CLASS": "config.api.schema.SchemaGenerator",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.strict_input",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ServiceKindEnum": "bookings.models.ServiceKind",
        "ResourceKindEnum": "fleet.models.ResourceKind",
        "BookingStatusEnum": "bookings.models.BookingStatus",
        "PaymentStatusEnum": "bookings.models.PaymentStatus",
    },
}

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
PHONENUMBER_DEFAULT_REGION = env("PHONENUMBER_DEFAULT_REGION", default="FI")

# --- Static files -------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

# --- Logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"pgserver": {"level": "WARNING"}},  # the embedded server narrates every start
}
