"""The audit trail of staff access to personal data (accounts/audit.py), append-only.

A trigger rather than trust in the code: whatever path reaches the table (the admin, a shell, a
raw query, a library), PostgreSQL refuses to change or remove an entry. Row-level, so a delete
that matches no entry is not refused. TRUNCATE is left to the table's owner (the test suite
empties tables that way); the application's role must not be granted it.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

APPEND_ONLY = """
CREATE FUNCTION accounts_auditentry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % of an entry is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER auditentry_append_only BEFORE UPDATE OR DELETE ON accounts_auditentry
    FOR EACH ROW EXECUTE FUNCTION accounts_auditentry_append_only();
"""

APPEND_ONLY_REVERSE = """
DROP TRIGGER auditentry_append_only ON accounts_auditentry;
DROP FUNCTION accounts_auditentry_append_only();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0008_organization_staff_second_factor'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('action', models.CharField(choices=[('customer_listed', 'Listed customers'), ('customer_viewed', 'Viewed a customer'), ('customer_history_viewed', "Viewed a customer's history"), ('customer_exported', 'Exported customers'), ('customer_added', 'Added a customer'), ('customer_changed', 'Changed a customer'), ('customer_deleted', 'Deleted a customer'), ('booking_changed', 'Changed a booking'), ('membership_added', 'Added a member'), ('membership_changed', "Changed a member's role"), ('membership_removed', 'Removed a member')], max_length=32)),
                ('target_type', models.CharField(max_length=64)),
                ('target_id', models.BigIntegerField(blank=True, null=True)),
                ('details', models.JSONField(blank=True, default=dict)),
                ('address', models.GenericIPAddressField(blank=True, null=True)),
                ('user_agent', models.CharField(blank=True, max_length=300)),
                ('request_id', models.CharField(blank=True, max_length=128)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('actor', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='%(class)ss', to='accounts.organization')),
            ],
            options={
                'verbose_name_plural': 'audit entries',
                'ordering': ['-created_at', '-pk'],
                'indexes': [models.Index(fields=['organization', '-created_at'], name='audit_entry_by_organization'), models.Index(fields=['target_type', 'target_id'], name='audit_entry_by_target')],
            },
        ),
        migrations.RunSQL(APPEND_ONLY, APPEND_ONLY_REVERSE),
    ]
