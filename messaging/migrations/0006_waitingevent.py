import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0005_consumeattempt_last_try"),
    ]

    operations = [
        migrations.CreateModel(
            name="WaitingEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("consumer", models.CharField(max_length=120)),
                ("event_id", models.UUIDField()),
                ("aggregate", models.CharField(max_length=120)),
                ("aggregate_id", models.CharField(max_length=120)),
                ("sequence", models.PositiveIntegerField()),
                ("envelope", models.TextField()),
                ("parked_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["consumer", "aggregate", "aggregate_id", "sequence"],
                        name="waiting_by_aggregate",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("consumer", "event_id"), name="one_wait_per_event"
                    )
                ],
            },
        ),
    ]
