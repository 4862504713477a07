from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_saga")]

    operations = [
        migrations.AddField(
            model_name="ordersaga",
            name="sent",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
