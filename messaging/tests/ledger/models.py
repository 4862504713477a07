from django.db import models


class Effect(models.Model):
    """One row per applied event. No unique constraint on purpose: a doubled effect shows."""

    event_id = models.UUIDField()
    event_type = models.CharField(max_length=120)
    aggregate_id = models.CharField(max_length=120)
    sequence = models.PositiveIntegerField()
    applied_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.aggregate_id}#{self.sequence}"
