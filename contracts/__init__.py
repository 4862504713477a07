"""The only code the monolith and the services share: event types and their envelope.

Schemas are versioned and append-only. A breaking change is a new class (OrderPlacedV2)
registered next to the old one, never an edit of a registered one; `carve contracts
export` writes contracts/schemas/*.json and refuses to change a published schema.
"""
