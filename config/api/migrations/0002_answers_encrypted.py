"""The stored answers to Idempotency-Key requests encrypted at rest (config/encryption.py): a
booking's answer names its customer. The column becomes text, then every existing answer is
encrypted in place."""

from django.db import migrations

import config.encryption
from config.encryption import decrypt, each_value, encrypt, rewrite_rows


def encrypt_existing(apps, schema_editor) -> None:
    rewrite_rows("api_idempotencyrecord", ["response_body"], each_value(encrypt), using=schema_editor.connection.alias)


def decrypt_existing(apps, schema_editor) -> None:
    rewrite_rows("api_idempotencyrecord", ["response_body"], each_value(decrypt), using=schema_editor.connection.alias)


class Migration(migrations.Migration):

    dependencies = [
        ('api', '0001_idempotency_record_moved_in'),
    ]

    operations = [
        migrations.AlterField(
            model_name='idempotencyrecord',
            name='response_body',
            field=config.encryption.EncryptedJSONField(null=True),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
    ]
