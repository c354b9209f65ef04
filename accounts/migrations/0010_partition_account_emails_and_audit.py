"""The account email outbox and the audit trail become partitioned by month
(config/partitioning.py). The audit trail's append-only trigger comes along.

Irreversible: going back would mean merging every month into one table again, and months
already archived could not come back. Restore a backup taken before this migration instead.
"""

from django.db import migrations
from django.db.migrations.exceptions import IrreversibleError

from config.partitioning import convert_to_partitioned


def partition(apps, schema_editor):
    convert_to_partitioned(schema_editor, "accounts_accountemail")
    convert_to_partitioned(schema_editor, "accounts_auditentry")


def refuse(apps, schema_editor):
    raise IrreversibleError(__doc__)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_audit_entry"),
    ]

    operations = [
        migrations.RunPython(partition, refuse, elidable=False),
    ]
