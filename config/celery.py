"""The Celery application. Tasks that touch tenant data use accounts.tenancy.OrganizationTask."""

import os

from celery import Celery, signals

# Workers and beat are deployed processes: production settings unless told otherwise
# (`make worker` and `make beat` ask for the local ones).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("booking")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def keep_django_logging(loglevel=None, **_kwargs) -> None:
    """Workers log through Django's LOGGING (plain or JSON lines, with the request id of the
    request that queued the task) instead of Celery's own format; `--loglevel` still applies."""
    import logging
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
