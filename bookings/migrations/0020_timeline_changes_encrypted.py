"""The timeline's changes encrypted at rest (config/encryption.py): they carry what a customer or
staff typed, such as a cancellation's reason. The column becomes text, then every existing
entry is encrypted in place."""

from django.db import migrations

import config.encryption
from config.encryption import decrypt, each_value, encrypt, rewrite_rows


def encrypt_existing(apps, schema_editor) -> None:
    rewrite_rows("bookings_bookingevent", ["changes"], each_value(encrypt), using=schema_editor.connection.alias)


def decrypt_existing(apps, schema_editor) -> None:
    rewrite_rows("bookings_bookingevent", ["changes"], each_value(decrypt), using=schema_editor.connection.alias)


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0019_walled_period_views'),
    ]

    operations = [
        migrations.AlterField(
            model_name='bookingevent',
            name='changes',
            field=config.encryption.EncryptedJSONField(blank=True, default=dict),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
    ]
