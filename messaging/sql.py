"""Plain SQL for the event path's hot statements.

The outbox insert of every writer, the relay's rounds and a delivery's bookkeeping (inbox
look-up, cursors, inbox rows, attempts) are each a handful of statements. Composed with
the ORM they cost the calling process more CPU than the database spent running them
(benchmarks/README.md, events), so those statements are written out with these helpers.
They stay portable: names are quoted and values prepared by the model's own fields, so
SQLite and PostgreSQL get what the ORM would have sent.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def any_of(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """`column` is one of `values`: the condition and its parameters.

    On PostgreSQL one array parameter (`= ANY(%s)`): psycopg re-parses a statement of more
    than 50 parameters on every execute, which for a delivery's IN lists cost the worker
    more than the query did; elsewhere IN (%s, ...).
    """
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({marks(values)})", list(values)


@functools.cache
def insert_fields(model: type[Model]) -> tuple[Field[Any, Any], ...]:
    """The columns an INSERT of whole rows writes: every concrete field but the key."""
    return tuple(f for f in model._meta.concrete_fields if not f.primary_key)


def insert_statement(model: type[Model], rows: int = 1) -> str:
    """INSERT INTO <model's table> (<insert_fields>) VALUES (...), ... for `rows` rows.

    Rows of several values go in one VALUES list (bulk_create on PostgreSQL sends arrays
    through UNNEST, whose quoting costs more CPU here than it saves the planner).
    """
    return _insert_statement(model, rows, connection.vendor)


@functools.cache
def _insert_statement(model: type[Model], rows: int, vendor: str) -> str:
    fields = insert_fields(model)
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    row = f"({marks(fields)})"
    return f"INSERT INTO {table(model)} ({columns}) VALUES " + ", ".join([row] * rows)


# What psycopg takes as it is, by field type: preparing such a value through its field
# returns it unchanged on PostgreSQL, at 2-3 µs a column on every event written or applied.
_AS_IS_ON_POSTGRESQL: dict[str, type] = {
    "CharField": str,
    "TextField": str,
    "IntegerField": int,
    "PositiveIntegerField": int,
    "PositiveSmallIntegerField": int,
    "BooleanField": bool,
    "UUIDField": uuid.UUID,
}


@functools.cache
def _columns(model: type[Model], vendor: str) -> tuple[tuple[Field[Any, Any], type | None], ...]:
    as_is = _AS_IS_ON_POSTGRESQL if vendor == "postgresql" else {}
    return tuple((f, as_is.get(f.get_internal_type())) for f in insert_fields(model))


def row_values(model: type[Model], values: dict[str, Any]) -> list[Any]:
    """One row's parameters for insert_statement: `values` by field name, each prepared by
    its field for this database (unless it is already what the database takes); a field
    left out takes its default."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each `connection.x` is a thread-local look-up
    row = []
    for field, as_is in _columns(model, db.vendor):
        value = values[field.name] if field.name in values else field.get_default()
        row.append(value if type(value) is as_is else field.get_db_prep_save(value, db))
    return row
