"""The Celery application. Tasks that touch tenant data use accounts.tenancy.OrganizationTask."""

import os

from celery import Celery

# Workers and beat are deployed processes: production settings unless told otherwise
# (`make worker` and `make beat` ask for the local ones).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("booking")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
