"""Settings shared by every environment, read from the environment with django-environ.

Each optional service falls back to something that needs no installation, so a fresh clone runs
with nothing configured: no DATABASE_URL -> embedded PostgreSQL, no REDIS_URL -> local-memory
cache, no CELERY_BROKER_URL -> tasks run eagerly in-process. `.env.example` lists every variable.
"""

import base64
import hashlib
import ipaddress
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

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
    # Staff sign-in: lockout after failed attempts, and the optional second factor (TOTP).
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "config.api",
    "accounts",
    "fleet",
    "bookings",
    "analytics",
    "config.operations",
    "config.demo",
]

MIDDLEWARE = [
    # The request id first, so every log line of the request carries it (config/operations/).
    "config.operations.request_id.RequestIdMiddleware",
    # /health/* and /metrics, before the host check, sessions and the tenant wall.
    "config.operations.middleware.OperationsEndpointsMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A lost connection retried once for reads; a lock or statement timeout answered 503.
    "config.database.DatabaseFaultMiddleware",
    # A record whose encrypted personal data fails its check answers 409, not 500.
    "config.encryption.UnreadableCiphertextMiddleware",
    # 400 for a NUL or lone surrogate anywhere in the request, before anything reaches PostgreSQL.
    "config.api.storable.StorableTextMiddleware",
    # ETag and 304 for every GET: a polling app re-downloads availability only when it changed.
    "django.middleware.http.ConditionalGetMiddleware",
    # The public catalogue's kept answers, served to anonymous reads before the rest of the stack.
    "bookings.api.answers.CachedAnswerMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The staff's second factor (request.user.is_verified) and idle expiry (accounts/sign_in.py).
    "django_otp.middleware.OTPMiddleware",
    "accounts.sign_in.StaffSessionRenewalMiddleware",
    # After a client's write, its reads stay on the primary for a while (config/replicas.py).
    "config.replicas.ReadYourWritesMiddleware",
    # Content-Security-Policy on every answer (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    # The tenant wall: after authentication, because the admin's scope is the user's organizations.
    "accounts.tenancy.TenantScopeMiddleware",
    # Where the request came from, for the audit trail of staff access (accounts/audit.py).
    "accounts.audit.AuditOriginMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The admin's lockout page, once django-axes refused a sign-in (AXES_* below).
    "axes.middleware.AxesMiddleware",
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
# The second tenant wall (config/row_security.py): each transaction runs as DATABASE_APP_ROLE
# (no BYPASSRLS, owns nothing) with the organizations of its scope, so the tables' row policies
# hide every other tenant's rows. The connection's own role (the owner) runs migrations and the
# platform-wide path. Off only to measure what it costs (tests/benchmark/run.py).
DATABASE_ROW_SECURITY = env.bool("DATABASE_ROW_SECURITY", default=True)
DATABASE_APP_ROLE = env.str("DATABASE_APP_ROLE", default="booking_app")


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
    return database_from_url(url)


def replica_databases() -> dict[str, dict]:
    """`replica1`, `replica2`... from DATABASE_REPLICA_URLS, read by config.replicas' router.

    In tests they mirror the default database (the router's rules are tested against real
    replicas in tests/scaling/).
    """
    return {
        f"replica{number}": database_from_url(url) | {"TEST": {"MIRROR": "default"}}
        for number, url in enumerate(DATABASE_REPLICA_URLS, start=1)
    }


def database_from_url(url: str) -> dict:
    settings = env.db_url_config(url)
    settings["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    settings["CONN_HEALTH_CHECKS"] = True
    # PostgreSQL's JIT spends seconds compiling the reporting queries to save milliseconds (the
    # demo's analytics_resource_day refresh: 1.8 s with it, 19 ms without); nothing here gains.
    options = settings.setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()
    if DATABASE_ROW_SECURITY:
        # The scope travels in front of a transaction's statements; a server-side cursor's
        # DECLARE (QuerySet.iterator) cannot carry it.
        settings["DISABLE_SERVER_SIDE_CURSORS"] = True
    if DATABASE_POOLED:
        # PgBouncer in transaction mode hands each transaction any server connection: a cursor
        # declared outside a transaction (QuerySet.iterator) would be lost. Prepared statements
        # are off already (Django sets psycopg's prepare_threshold to None).
        settings["DISABLE_SERVER_SIDE_CURSORS"] = True
    else:
        timeouts = connection_options(
            statement_timeout=DATABASE_STATEMENT_TIMEOUT, lock_timeout=DATABASE_LOCK_TIMEOUT
        )
        options["options"] = f"{options['options']} {timeouts}"
    return settings


# Streaming replicas for reads that tolerate a little staleness (config/replicas.py).
DATABASE_REPLICA_URLS = env.list("DATABASE_REPLICA_URLS", default=[])
DATABASE_REPLICA_MAX_LAG_SECONDS = env.float("DATABASE_REPLICA_MAX_LAG_SECONDS", default=5.0)
DATABASE_REPLICA_CHECK_SECONDS = env.float("DATABASE_REPLICA_CHECK_SECONDS", default=2.0)
DATABASE_READ_YOUR_WRITES_SECONDS = env.int("DATABASE_READ_YOUR_WRITES_SECONDS", default=15)
DATABASE_ROUTERS = ["config.replicas.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default=None)
if REDIS_URL:
    CACHES = {
        "default": {
            # django-redis behind a circuit breaker (config/cache.py): after a connection error
            # or timeout Redis is skipped for CACHE_BREAKER_SECONDS, one warning per outage;
            # every operation timed and every failure counted for /metrics.
            "BACKEND": "config.cache.CircuitBreakerRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # A down or hung Redis must not hang requests: fail fast, answer from PostgreSQL.
                "SOCKET_CONNECT_TIMEOUT": env.float("CACHE_SOCKET_TIMEOUT", default=0.25),
                "SOCKET_TIMEOUT": env.float("CACHE_SOCKET_TIMEOUT", default=0.25),
                "IGNORE_EXCEPTIONS": True,
                "BREAKER_SECONDS": env.float("CACHE_BREAKER_SECONDS", default=5),
            },
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="booking"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# When Redis is down, callers get a miss (and compute from the database). The breaker logs the
# outage once; django-redis would log a traceback for every failed call.
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False

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

# Emails, housekeeping and the rest each have a queue, so the outbox sweep never waits behind a
# backlog of emails (it is what rescues them) nor behind a minutes-long analytics refresh.
# `make worker` consumes all three; production runs the housekeeping queue on a worker of its
# own (docs/operations.md). Every name carries CELERY_QUEUE_PREFIX, so deployments (and test
# runs) sharing one broker never take each other's tasks.
EMAIL_TASKS = ("accounts.tasks.account_email_send", "bookings.tasks.outbox_email_send")
HOUSEKEEPING_TASKS = (
    "accounts.tasks.account_outbox_sweep",
    "bookings.tasks.outbox_sweep",
    "bookings.tasks.booking_reminders_schedule",
    "bookings.tasks.booking_reminders_queue",
    "config.api.tasks.idempotency_records_purge",
    "accounts.tasks.expired_tokens_purge",
)


def celery_queues(prefix: str) -> dict:
    """The queue settings for one prefix: CELERY_TASK_QUEUES, _DEFAULT_QUEUE and _ROUTES.

    Returns {"emails": name, "housekeeping": name, "default": name, "settings": {...}}; the
    settings use Celery's lower-case names, ready for `app.conf.update` as well.
    """
    names = {kind: f"{prefix}{kind}" for kind in ("emails", "housekeeping")}
    names["default"] = f"{prefix}celery"
    routes = {task: {"queue": names["emails"]} for task in EMAIL_TASKS} | {
        task: {"queue": names["housekeeping"]} for task in HOUSEKEEPING_TASKS
    }
    return names | {
        "settings": {
            "task_queues": [
                Queue(name, Exchange(name, "direct"), routing_key=name) for name in names.values()
            ],
            "task_default_queue": names["default"],
            "task_routes": routes,
        }
    }


CELERY_QUEUE_PREFIX = env("CELERY_QUEUE_PREFIX", default="")
_queues = celery_queues(CELERY_QUEUE_PREFIX)["settings"]
CELERY_TASK_QUEUES = _queues["task_queues"]
CELERY_TASK_DEFAULT_QUEUE = _queues["task_default_queue"]
CELERY_TASK_ROUTES = _queues["task_routes"]

# --- The email outbox's timing (accounts/outbox.py) ---
# How often beat runs the outbox sweeps, seconds: the longest a lost email waits once its claim
# has run out. Each sweep is one indexed query, so a short interval costs little.
EMAIL_SWEEP_SECONDS = env.float("EMAIL_SWEEP_SECONDS", default=10.0)
# How long a send's claim on its email lasts, seconds: once it has run out on a pending email
# that no live send holds locked, the sweep queues the email again. A healthy send (render, then
# SMTP or a provider's API) takes well under 3 s; x10 for a slow provider gives 30 s, which also
# leaves the broker's own redelivery of a dead worker's task (RabbitMQ: at once) the first go.
# Shorter only queues duplicates (harmless: the row's lock and status send once); longer delays
# the rescue of an email a dead worker took with it.
EMAIL_SEND_CLAIM_SECONDS = env.float("EMAIL_SEND_CLAIM_SECONDS", default=30.0)
# The most a booking (or a sign-up) waits for the broker when queueing an email's task, seconds:
# one try, no retries; on failure the row stays pending and the sweep queues it.
EMAIL_PUBLISH_TIMEOUT = env.float("EMAIL_PUBLISH_TIMEOUT", default=0.25)

CELERY_BEAT_SCHEDULE = {
    "send-lost-outbox-emails": {
        "task": "bookings.tasks.outbox_sweep",
        "schedule": timedelta(seconds=EMAIL_SWEEP_SECONDS),
        # A sweep nobody ran in time is replaced by the next one, not piled up behind it.
        "options": {"expires": EMAIL_SWEEP_SECONDS},
    },
    "send-lost-account-emails": {
        "task": "accounts.tasks.account_outbox_sweep",
        "schedule": timedelta(seconds=EMAIL_SWEEP_SECONDS),
        "options": {"expires": EMAIL_SWEEP_SECONDS},
    },
    "queue-booking-reminders": {
        "task": "bookings.tasks.booking_reminders_schedule",
        "schedule": timedelta(minutes=env.int("BOOKING_REMINDER_CHECK_MINUTES", default=5)),
    },
    "purge-expired-api-tokens": {
        "task": "accounts.tasks.expired_tokens_purge",
        "schedule": timedelta(hours=1),
    },
    "purge-expired-idempotency-records": {
        "task": "config.api.tasks.idempotency_records_purge",
        "schedule": timedelta(hours=1),
    },
    # A backup and a restore check of it, each night (BACKUP_HOUR_UTC).
    "back-up-and-verify": {
        "task": "config.operations.tasks.backup_and_verify",
        "schedule": crontab(hour=env.int("BACKUP_HOUR_UTC", default=2), minute=30),
    },
    # The partitioned logs' months ahead created, expired ones archived (PARTITION_*).
    "maintain-partitions": {
        "task": "config.operations.tasks.partitions_maintain",
        "schedule": crontab(hour=3, minute=15),
    },
    # Past days in the dashboard are at most this old; today is always live (analytics/figures.py).
    "update-analytics-figures": {
        "task": "analytics.tasks.analytics_figures_update",
        "schedule": timedelta(minutes=env.int("ANALYTICS_REFRESH_MINUTES", default=15)),
    },
    # What the touched days do not follow (opening hours, closures, resources), once a night.
    "rebuild-analytics-figures": {
        "task": "analytics.tasks.analytics_tables_rebuild",
        "schedule": crontab(hour=3, minute=45),
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
# Customer emails are retried with exponential backoff (seconds), then marked failed: after
# 1 + EMAIL_MAX_RETRIES attempts, counted on the email itself (an interrupted send counts).
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
# Sign-in by email; permissions from roles only (accounts/roles.py). django-axes comes first:
# it refuses an admin sign-in while the account or the address is locked out.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "accounts.roles.RoleBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# --- The staff's doors (accounts/sign_in.py, docs/operations.md) ---------------------------------
# The admin's sign-in locks out an account, and separately an address, after AXES_FAILURE_LIMIT
# failures within AXES_COOLOFF_TIME; the lockout ends by itself after AXES_COOLOFF_TIME, or when
# a platform admin deletes it in the admin (Axes > Access attempts). The API's sign-in keeps its
# own FailedLoginThrottle: axes counts and refuses on the admin only (AdminOnlyAxesHandler).
AXES_HANDLER = "accounts.sign_in.AdminOnlyAxesHandler"
AXES_FAILURE_LIMIT = env.int("STAFF_SIGN_IN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("STAFF_SIGN_IN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks: per account, per address
AXES_ONLY_ADMIN_SITE = True
AXES_USERNAME_CALLABLE = "accounts.sign_in.sign_in_name"  # Ann@x.com and ann@x.com count together
# The "locked out" page, saying when to try again (templates/admin/locked_out.html).
AXES_LOCKOUT_CALLABLE = "accounts.sign_in.locked_out"
# The client address as the API's throttles read it (REST_FRAMEWORK["NUM_PROXIES"]).
AXES_CLIENT_IP_CALLABLE = "config.api.throttling.client_address"
AXES_VERBOSE = False
# Staff sessions end after this long without a request; each request pushes the end forward.
STAFF_SESSION_IDLE_MINUTES = env.int("STAFF_SESSION_IDLE_MINUTES", default=60)
# Platform admins must use a second factor too (organizations require it of their staff with
# Organization.staff_second_factor_required).
PLATFORM_ADMIN_SECOND_FACTOR_REQUIRED = env.bool(
    "PLATFORM_ADMIN_SECOND_FACTOR_REQUIRED", default=False
)
# The name authenticator apps show next to the code.
OTP_TOTP_ISSUER = env("STAFF_SECOND_FACTOR_ISSUER", default="Booking platform")

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
    # Counters live in the cache: Redis when REDIS_URL is set, so every process shares them; while
    # Redis is down, in each process (config.cache.ThrottleCache), never failing open.
    "DEFAULT_THROTTLE_CLASSES": [
        "config.api.throttling.AnonRateThrottle",
        "config.api.throttling.UserRateThrottle",
        "config.api.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="120/min"),
        "user": env("API_THROTTLE_USER", default="600/min"),
        "booking_create": env("API_THROTTLE_BOOKING_CREATE", default="20/hour"),
        "failed_login": env("API_THROTTLE_FAILED_LOGIN", default="10/hour"),
        # Reset and verification emails per address, whoever asks: no inbox gets flooded.
        "account_email": env("API_THROTTLE_ACCOUNT_EMAIL", default="5/hour"),
        # The customer pages' anonymous forms, per address: the booking's last step, and the
        # lookup by code and email (which must not become a way to guess codes).
        "page_booking": env("PAGE_THROTTLE_BOOKING", default="30/hour"),
        "page_lookup": env("PAGE_THROTTLE_LOOKUP", default="10/hour"),
        # The admin's "Forgotten your password?" form, per client address (each email address
        # also counts against account_email, with the API's reset requests).
        "page_password_reset": env("PAGE_THROTTLE_PASSWORD_RESET", default="10/hour"),
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

# --- Content-Security-Policy (django-csp) --------------------------------------------------------
# Pages, the admin and the API docs load scripts, styles, images and fonts from this site only,
# and run no inline script (none of our templates has one). Inline styles stay allowed: the
# calendar places its bookings with style attributes.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
PHONENUMBER_DEFAULT_REGION = env("PHONENUMBER_DEFAULT_REGION", default="FI")

# --- Static files -------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")

# --- Operations (config/operations/, docs/operations.md) ----------------------------------------
# Seconds each readiness check (database, Redis, broker) may take before it counts as down.
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=1.0)
# Who may read /metrics: these networks (CIDR), or a request with "Authorization: Bearer <token>".
# Development and tests: loopback. Production: nobody until one of them is set.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.0/8", "::1/128"])
METRICS_BEARER_TOKEN = env("METRICS_BEARER_TOKEN", default="")


def networks_checked(cidrs: list[str]) -> list[str]:
    """The list, or a start-up error naming the entry that is not a network."""
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError as error:
            raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {error}") from None
    return cidrs


METRICS_ALLOWED_IPS = networks_checked(METRICS_ALLOWED_IPS)

# --- Personal data encrypted at rest (config/encryption.py, docs/operations.md) ---------------
# FIELD_ENCRYPTION_KEYS: Fernet keys, comma-separated; the first encrypts, all decrypt.
# BLIND_INDEX_KEY: the HMAC key of the lookup hashes (a customer's email and phone).
# Development and tests derive both from SECRET_KEY; production has no default.


def derived_secret(purpose: str) -> str:
    """A key for `purpose` made from SECRET_KEY: development and tests only."""
    digest = hashlib.sha256(f"{purpose}:{SECRET_KEY}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def fernet_keys_checked(keys: list[str]) -> list[str]:
    """The keys, or a start-up error naming the one that is not a Fernet key."""
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS: at least one key is needed.")
    for position, key in enumerate(keys, start=1):
        try:
            if len(base64.urlsafe_b64decode(key.encode())) != 32:
                raise ValueError
        except ValueError:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS: key {position} is not a Fernet key (32 url-safe "
                'base64 bytes; make one with `python -c "from cryptography.fernet import '
                'Fernet; print(Fernet.generate_key().decode())"`).'
            ) from None
    return keys


def blind_index_key_checked(key: str) -> str:
    if len(key) < 32:
        raise ImproperlyConfigured("BLIND_INDEX_KEY: use at least 32 random characters.")
    return key


FIELD_ENCRYPTION_KEYS = fernet_keys_checked(
    env.list("FIELD_ENCRYPTION_KEYS", default=[derived_secret("field-encryption")])
)
BLIND_INDEX_KEY = blind_index_key_checked(
    env("BLIND_INDEX_KEY", default=derived_secret("blind-index"))
)

# Every process logs statements slower than this (config/operations/insight.py); 0 turns it off.
DATABASE_SLOW_STATEMENT_MS = env.int("DATABASE_SLOW_STATEMENT_MS", default=500)

# --- Backups (config/operations/backups.py, docs/operations.md) --------------------------------
# A folder by default; with BACKUP_S3_BUCKET, any S3-compatible bucket (django-storages), whose
# credentials come from the usual AWS_* variables or the machine's role.
BACKUP_DIR = env("BACKUP_DIR", default=str(BASE_DIR / "var" / "backups"))
BACKUP_S3_BUCKET = env("BACKUP_S3_BUCKET", default="")
BACKUP_KEEP = env.int("BACKUP_KEEP", default=14)
BACKUP_PG_BIN = env("BACKUP_PG_BIN", default="")  # a folder with pg_dump/pg_restore, if unusual
BACKUP_TIME_LIMIT = env.int("BACKUP_TIME_LIMIT", default=4 * 3600)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "backups": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BACKUP_S3_BUCKET,
                "location": env("BACKUP_S3_PREFIX", default="backups"),
                "endpoint_url": env("BACKUP_S3_ENDPOINT_URL", default="") or None,
                "default_acl": "private",
                "file_overwrite": False,
            },
        }
        if BACKUP_S3_BUCKET
        else {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": BACKUP_DIR},
        }
    ),
}

# --- Partitioned logs (config/partitioning.py, config/operations/partitions.py) -----------------
# The timeline and the email outboxes are partitioned by month; beat creates this many months
# ahead of the current one each night (partitions_maintain).
PARTITION_MONTHS_AHEAD = env.int("PARTITION_MONTHS_AHEAD", default=3)
# Months kept before the current one; older months are archived to the backup storage and
# dropped. A system check refuses fewer than config.partitioning.RETENTION_FLOOR_MONTHS (13).
PARTITION_TIMELINE_RETENTION_MONTHS = env.int("PARTITION_TIMELINE_RETENTION_MONTHS", default=36)
# The emails hold addresses and bodies: kept no longer than the timeline needs them.
PARTITION_EMAIL_RETENTION_MONTHS = env.int("PARTITION_EMAIL_RETENTION_MONTHS", default=13)
# Who saw whose data: kept as long as the timeline (an access is questioned long after).
PARTITION_AUDIT_RETENTION_MONTHS = env.int("PARTITION_AUDIT_RETENTION_MONTHS", default=36)

# --- Logging ------------------------------------------------------------------------------------
# LOG_FORMAT=json: one JSON object per line (for a log shipper); plain otherwise. Either way each
# line carries the request id (config/operations/request_id.py), "-" outside a request or task.
LOG_FORMAT = env("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.operations.request_id.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601, UTC
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"pgserver": {"level": "WARNING"}},  # the embedded server narrates every start
}
