from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0004_parked_commands"),
    ]

    operations = [
        migrations.AddField(
            model_name="consumeattempt",
            name="last_try",
            field=models.CharField(blank=True, default="", max_length=20),
        ),
    ]
