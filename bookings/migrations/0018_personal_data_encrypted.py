"""What customers write (booking notes, a cancellation's reason, reviews) and the emails sent
to them (recipient, bodies, calendar, the snapshot they are rendered from) encrypted at rest (config/encryption.py): the columns
become text, then every existing value is encrypted in place, batch by batch."""

from django.db import migrations

import config.encryption
from config.encryption import decrypt, each_value, encrypt, rewrite_rows

ENCRYPTED = [
    ("bookings_booking", ["notes", "cancellation_reason"]),
    ("bookings_carreview", ["comment"]),
    ("bookings_outboxemail", ["to", "body_text", "body_html", "calendar", "snapshot"]),
]


def encrypt_existing(apps, schema_editor) -> None:
    for table, columns in ENCRYPTED:
        rewrite_rows(table, columns, each_value(encrypt), using=schema_editor.connection.alias)


def decrypt_existing(apps, schema_editor) -> None:
    for table, columns in ENCRYPTED:
        rewrite_rows(table, columns, each_value(decrypt), using=schema_editor.connection.alias)


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0017_organization_reference_generation'),
    ]

    operations = [
        migrations.AlterField(
            model_name='booking',
            name='cancellation_reason',
            field=config.encryption.EncryptedCharField(blank=True, max_length=500),
        ),
        migrations.AlterField(
            model_name='booking',
            name='notes',
            field=config.encryption.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='carreview',
            name='comment',
            field=config.encryption.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='outboxemail',
            name='body_html',
            field=config.encryption.EncryptedTextField(),
        ),
        migrations.AlterField(
            model_name='outboxemail',
            name='body_text',
            field=config.encryption.EncryptedTextField(),
        ),
        migrations.AlterField(
            model_name='outboxemail',
            name='calendar',
            field=config.encryption.EncryptedTextField(help_text='The .ics attachment (iCalendar).'),
        ),
        migrations.AlterField(
            model_name='outboxemail',
            name='to',
            field=config.encryption.EncryptedEmailField(max_length=254),
        ),
        migrations.AlterField(
            model_name='outboxemail',
            name='snapshot',
            field=config.encryption.EncryptedJSONField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
    ]
