"""Development: `make run`."""

from config.settings.base import *  # noqa: F403
from config.settings.base import database_from_environment, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
DATABASES = {"default": database_from_environment(embedded_fallback=True)}
