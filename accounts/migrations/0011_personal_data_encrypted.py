"""Customers' email and phone, people's phone and the account emails' recipient encrypted at
rest (config/encryption.py), with the blind indexes customers are found by.

The columns become text (a token is longer than the clear value), then every existing value is
encrypted in place and indexed, batch by batch; backwards, decrypted in place."""

from django.db import migrations, models

import accounts.models
import config.encryption
from config.encryption import blind_index, decrypt, each_value, encrypt, rewrite_rows

# (table, columns) encrypted here; the customers' indexes are filled beside theirs.
ENCRYPTED = [("accounts_user", ["phone"]), ("accounts_accountemail", ["to"])]


def encrypt_existing(apps, schema_editor) -> None:
    using = schema_editor.connection.alias
    for table, columns in ENCRYPTED:
        rewrite_rows(table, columns, each_value(encrypt), using=using)

    def customer(values: list) -> list:
        email, phone = values
        return [
            encrypt(email) if email else "",
            blind_index("email", email),
            encrypt(phone) if phone else "",
            blind_index("phone", phone),
        ]

    rewrite_rows(
        "accounts_customer",
        ["email", "phone"],
        customer,
        written=["email", "email_index", "phone", "phone_index"],
        using=using,
    )


def decrypt_existing(apps, schema_editor) -> None:
    using = schema_editor.connection.alias
    for table, columns in [*ENCRYPTED, ("accounts_customer", ["email", "phone"])]:
        rewrite_rows(table, columns, each_value(decrypt), using=using)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0010_partition_account_emails_and_audit'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='customer',
            name='customer_email_lowercase',
        ),
        migrations.RemoveConstraint(
            model_name='customer',
            name='one_customer_per_email_and_organization',
        ),
        migrations.AddField(
            model_name='customer',
            name='email_index',
            field=config.encryption.BlindIndexField(kind='email', source='email'),
        ),
        migrations.AddField(
            model_name='customer',
            name='phone_index',
            field=config.encryption.BlindIndexField(kind='phone', source='phone'),
        ),
        migrations.AlterField(
            model_name='accountemail',
            name='to',
            field=config.encryption.EncryptedEmailField(max_length=254),
        ),
        migrations.AlterField(
            model_name='customer',
            name='email',
            field=accounts.models.EncryptedLowercaseEmailField(blank=True, max_length=254),
        ),
        migrations.AlterField(
            model_name='customer',
            name='phone',
            field=config.encryption.EncryptedPhoneNumberField(blank=True, max_length=128, region=None),
        ),
        migrations.AlterField(
            model_name='user',
            name='phone',
            field=config.encryption.EncryptedPhoneNumberField(blank=True, max_length=128, region=None),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['email_index'], name='customer_email_index'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['organization', 'phone_index'], name='customer_phone_index'),
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.UniqueConstraint(condition=models.Q(('email_index', ''), _negated=True), fields=('organization', 'email_index'), name='one_customer_per_email_and_organization', violation_error_message='This organization already has a customer with this email.'),
        ),
    ]
