"""The booking timeline and the email outbox become partitioned by month (config/partitioning.py).

Irreversible: going back would mean merging every month into one table again and restoring the
unique (booking, event_key) constraint over rows that the booking's lock, not that constraint,
has kept unique since; and months already archived could not come back. Restore a backup taken
before this migration instead.
"""

from django.db import migrations
from django.db.migrations.exceptions import IrreversibleError

from config.partitioning import convert_to_partitioned


def partition(apps, schema_editor):
    convert_to_partitioned(schema_editor, "bookings_bookingevent")
    convert_to_partitioned(schema_editor, "bookings_outboxemail")


def refuse(apps, schema_editor):
    raise IrreversibleError(__doc__)


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0014_availability_generations"),
    ]

    operations = [
        # A unique constraint on a partitioned table must contain created_at, which would make
        # it useless; email_queue keeps one email per event under the booking's row lock.
        migrations.RemoveConstraint(
            model_name="outboxemail",
            name="one_email_per_booking_event",
        ),
        migrations.RunPython(partition, refuse, elidable=False),
    ]
