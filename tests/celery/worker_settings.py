"""Settings of the Celery workers that tests/celery starts (DJANGO_SETTINGS_MODULE of the worker).

The test settings, except that tasks are really queued (the test process itself stays eager
outside these tests) and emails are recorded as files, so the test process can see what another
process sent. A module of its own rather than switches in config/settings/test.py: a developer's
.env (EMAIL_BACKEND is in .env.example) must never change how the rest of the suite sends mail.
"""

from config.settings.base import env
from config.settings.test import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
EMAIL_BACKEND = "tests.celery.recording_email_backend.EmailBackend"
# Where the backend writes, and how long each send takes (so a test can kill a worker mid-send).
EMAIL_RECORDING_DIR = env("EMAIL_RECORDING_DIR")
EMAIL_RECORDING_SEND_SECONDS = env.float("EMAIL_RECORDING_SEND_SECONDS", default=0.0)
