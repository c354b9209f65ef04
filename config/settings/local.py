"""Development: `make run`."""

from config.settings.base import *  # noqa: F403
from config.settings.base import database_from_environment, env, replica_databases

DEBUG = env.bool("DJANGO_DEBUG", default=True)
DATABASES = {
    "default": database_from_environment(embedded_fallback=True),
    **replica_databases(),
}
# Unless told otherwise, customer emails land as files in var/mail/ (one per message): readable
# without a mail server, and they do not bury the server's log.
if not env("EMAIL_URL", default=""):
    EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
# Emails link to the server `make run` started: on its PORT unless SITE_URL says otherwise.
SITE_URL = env(
    "SITE_URL",
    default=f"http://127.0.0.1:{env('PORT', default='8000')}",
)
