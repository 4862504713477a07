"""API callers' Idempotency-Keys move into their own key space ("api:<key>"), apart from
the keys of orders' charges ("order:<order id>"), which no caller can write any more."""

from django.db import migrations, models


def to_caller_space(apps, schema_editor):  # type: ignore[no-untyped-def]
    Charge = apps.get_model("payments", "Charge")
    for charge in Charge.objects.exclude(idempotency_key=None).iterator():
        key = charge.idempotency_key
        if key == f"order:{charge.order_id}":
            continue
        charge.idempotency_key = f"api:{key}"
        charge.save(update_fields=["idempotency_key"])


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]

    operations = [
        # a caller's key may be 255 characters: room for the prefix
        migrations.AlterField(
            model_name="charge",
            name="idempotency_key",
            field=models.CharField(blank=True, max_length=260, null=True),
        ),
        migrations.RunPython(to_caller_space, migrations.RunPython.noop),
    ]
