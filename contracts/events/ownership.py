"""ownership: which side writes a context, and the handover between them."""

from __future__ import annotations

from pydantic import Field

from contracts.events import Event


class HandedOverV1(Event):
    """A side stopped writing `context` and says how many events of it it ever published.

    The side taking over writes only once it has applied that many (of the types it
    takes), so no write of the old owner is overtaken by one of the new.
    """

    TYPE = "ownership.HandedOver"
    VERSION = 1
    AGGREGATE = "ownership.handover"

    context: str
    from_service: str
    to_service: str
    route_version: int = Field(ge=0)
    published: dict[str, int]

    def aggregate_id(self) -> str:
        return f"{self.context}:{self.from_service}"
