from django.db import migrations


class Migration(migrations.Migration):
    # IdempotencyRecord now belongs to the API kit (config.api, label "api"), which took over
    # its table in api 0001; only Django's state is removed here.

    dependencies = [
        ('api', '0001_idempotency_record_moved_in'),
        ('bookings', '0008_maintenance_and_reviews_moved_in'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='IdempotencyRecord')]
        ),
    ]
