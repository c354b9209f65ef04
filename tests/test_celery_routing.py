"""Where each task goes (config.settings.base.celery_queues): a misspelt route would silently send
a task to the default queue, where the outbox sweep could wait behind an analytics refresh."""

from django.conf import settings

from config.celery import app
from config.settings.base import EMAIL_TASKS, HOUSEKEEPING_TASKS, celery_queues


def test_every_routed_task_exists_and_the_queues_carry_the_prefix():
    app.loader.import_default_modules()
    queues = celery_queues("deploy-a-")

    assert set(queues["settings"]["task_routes"]) <= set(app.tasks)
    assert {queue.name for queue in queues["settings"]["task_queues"]} == {
        "deploy-a-emails",
        "deploy-a-housekeeping",
        "deploy-a-celery",
    }
    assert queues["settings"]["task_default_queue"] == "deploy-a-celery"


def test_the_sweeps_go_to_housekeeping_and_the_sends_to_emails():
    routes = celery_queues("")["settings"]["task_routes"]
    assert routes["bookings.tasks.outbox_sweep"] == {"queue": "housekeeping"}
    assert routes["accounts.tasks.account_outbox_sweep"] == {"queue": "housekeeping"}
    assert routes["bookings.tasks.outbox_email_send"] == {"queue": "emails"}
    assert routes["accounts.tasks.account_email_send"] == {"queue": "emails"}
    # Long tasks stay off housekeeping: a sweep must never wait behind them.
    assert "analytics.tasks.analytics_tables_rebuild" not in routes
    assert not set(EMAIL_TASKS) & set(HOUSEKEEPING_TASKS)


def test_beat_runs_the_sweeps_every_few_seconds_and_drops_a_sweep_left_unrun():
    for name in ("send-lost-outbox-emails", "send-lost-account-emails"):
        entry = settings.CELERY_BEAT_SCHEDULE[name]
        assert entry["schedule"].total_seconds() == settings.EMAIL_SWEEP_SECONDS
        assert entry["options"]["expires"] == settings.EMAIL_SWEEP_SECONDS
