"""carve: take a Django monolith apart into services without breaking it."""

__version__ = "0.1.0"
