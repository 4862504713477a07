"""What may differ between two runs of a scenario without meaning a different behaviour.

Each answer is turned into `{"status", "headers", "body"}` and passed through these
normalisers, in this order, one scenario on one side at a time (so a generated id gets
the same name on both sides when it plays the same part):

    refused_for_stock    409 insufficient_stock, or 201 pending that ends cancelled
                         (out_of_stock) with no charge -> one outcome: refused for stock
    drop_refused_orders  list items about an order refused for stock -> dropped
    sort_unordered       lists the step marks unordered -> sorted by content
    debug_pages          Django's DEBUG error page (it lists the answering server's URL
                         patterns) -> <Django DEBUG page: its title>
    strip_hosts          http://127.0.0.1:8123/api/... -> /api/...
    mask_timestamps      2026-11-24T22:08:26.411663Z -> <timestamp .f Z> (its shape)
    mask_secrets         the value of a `token` key -> <token>
    run_tag              parity-1a2b3c4d (the names this run made up) -> parity-<run>
    number_ids           UUIDs anywhere, values of `id` / `*_id` keys (numbers, and hex
                         strings such as a request id) -> <id:1>, <id:2>... numbered in
                         order of first appearance

`refused_for_stock` is the one accepted difference in behaviour, not noise: with the
monolith writing inventory, not enough stock is a 409 at once and leaves nothing
behind; once inventory is extracted, the order is placed (201 pending) and the saga
cancels it (`out_of_stock`), and that cancelled order stays in the shopper's lists.
Both tell the client the same thing (refused for stock, not charged, no stock taken);
the step is reported as "accepted" with a note, and `--strict` turns the rule off.

Masking is not looking away: a timestamp keeps its shape (fraction, zone suffix), and a
link whose host is not the address the client used (it would take the client past the
proxy) is stripped for the compare but reported as a warning.

To add a rule: write a function `(observation, value, state) -> value` and put a
`Normalizer` for it in NORMALIZERS (or pass your own list to the runner).
"""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from parity.model import Observation, ScenarioRun

UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
HEX_ID = re.compile(r"^[0-9a-fA-F]{16,}$")  # an id without dashes: a request id, a uuid4 hex
LINK = re.compile(r"^https?://[^/\s]+(?=/|$)")
DEBUG_PAGE = "<code>DEBUG = True</code>"
TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)
SECRET_KEYS = frozenset({"token", "access", "refresh"})
AT_ONCE_NOTE = "409 insufficient_stock (refused at once) read as: refused for stock"
BY_SAGA_NOTE = (
    "201 pending, then cancelled(out_of_stock) by the saga with no charge, read as: refused "
    "for stock (the cancelled order stays in the shopper's lists)"
)


@dataclass
class RunState:
    """What normalisation remembers across one scenario's answers on one side."""

    tag: str
    base: str = ""  # the address the client used; links elsewhere are warned about
    ids: dict[str, str] = field(default_factory=dict)  # raw id -> "<id:N>"
    refused_orders: set[str] = field(default_factory=set)


Value = dict[str, Any]
Rule = Callable[[Observation, Value, RunState], Value]


@dataclass(frozen=True)
class Normalizer:
    name: str
    why: str
    apply: Rule


def normalize_run(
    run: ScenarioRun, tag: str, normalizers: Iterable[Normalizer] = (), base: str = ""
) -> None:
    """Fill in `compared` for every observation of `run` (tag and base: of its side)."""
    chosen = list(normalizers) or NORMALIZERS
    state = RunState(tag=tag, base=base.rstrip("/"))
    for observation in run.observations:
        observation.notes, observation.warnings = [], []
        value: Value = {
            "status": observation.status,
            "headers": dict(observation.headers),
            "body": copy.deepcopy(observation.body),
        }
        for normalizer in chosen:
            value = normalizer.apply(observation, value, state)
        observation.compared = value


# ------------------------------------------------------------------ tree helpers
def transform(value: Any, leaf: Callable[[str | None, Any], Any], key: str | None = None) -> Any:
    """Rebuild a JSON value, passing every scalar (with the key it sits under) to `leaf`.

    Dict keys are visited in sorted order, so numbering is the same whatever key order
    a side's serializer used.
    """
    if isinstance(value, dict):
        return {k: transform(value[k], leaf, k) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [transform(item, leaf, key) for item in value]
    return leaf(key, value)


def get_path(value: Any, path: str) -> Any:
    """`$.body.results` style paths (dotted keys only); None when absent."""
    for part in path.removeprefix("$").strip(".").split("."):
        if not part:
            continue
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _set_path(value: Any, path: str, new: Any) -> None:
    parts = [p for p in path.removeprefix("$").strip(".").split(".") if p]
    for part in parts[:-1]:
        value = value[part]
    value[parts[-1]] = new


# ------------------------------------------------------------------ the rules
def refused_for_stock(observation: Observation, value: Value, state: RunState) -> Value:
    if observation.kind != "place_order":
        return value
    body = value["body"] if isinstance(value["body"], dict) else {}
    at_once = value["status"] == 409 and body.get("code") == "insufficient_stock"
    by_saga = (
        value["status"] == 201
        and body.get("status") == "cancelled"
        and body.get("cancel_reason") == "out_of_stock"
        and body.get("payment_id") is None
    )
    if not (at_once or by_saga):
        return value
    if by_saga:
        state.refused_orders.add(str(body.get("id")))
    note = AT_ONCE_NOTE if at_once else BY_SAGA_NOTE
    if note not in observation.notes:
        observation.notes.append(note)
    refused = {"outcome": "refused", "reason": "out_of_stock", "charged": False}
    return {"status": "refused for stock", "headers": {}, "body": refused}


def drop_refused_orders(observation: Observation, value: Value, state: RunState) -> Value:
    body = value["body"]
    if not state.refused_orders or not isinstance(body, dict):
        return value
    results = body.get("results")
    if not isinstance(results, list):
        return value
    kept = [
        item
        for item in results
        if not (
            isinstance(item, dict)
            and str(item.get("order_id", item.get("id"))) in state.refused_orders
        )
    ]
    if len(kept) != len(results):
        body = {**body, "results": kept}
        if isinstance(body.get("count"), int):
            body["count"] -= len(results) - len(kept)
        note = f"dropped {len(results) - len(kept)} order(s) refused for stock from the list"
        observation.notes.append(note)
    return {**value, "body": body}


def _content_key(item: Any) -> str:
    def mask(key: str | None, leaf: Any) -> Any:
        if isinstance(leaf, str):
            return TIMESTAMP.sub("<t>", UUID.sub("<id>", leaf))
        if key is not None and _is_id_key(key) and isinstance(leaf, int):
            return "<id>"
        return leaf

    return json.dumps(transform(item, mask), sort_keys=True, default=str)


def sort_unordered(observation: Observation, value: Value, state: RunState) -> Value:
    for path in observation.unordered:
        found = get_path(value, path)
        if isinstance(found, list):
            _set_path(value, path, sorted(found, key=_content_key))
    return value


def debug_pages(observation: Observation, value: Value, state: RunState) -> Value:
    body = value["body"]
    if not (isinstance(body, str) and DEBUG_PAGE in body):
        return value
    title = TITLE.search(body)
    name = html.unescape(title.group(1)).strip() if title else "untitled"
    warning = f"Django's DEBUG page answered ({name}): the server runs with DEBUG on"
    if warning not in observation.warnings:
        observation.warnings.append(warning)
    return {**value, "body": f"<Django DEBUG page: {name}>"}


def strip_hosts(observation: Observation, value: Value, state: RunState) -> Value:
    def strip(key: str | None, item: Any) -> Any:
        if not isinstance(item, str):
            return item
        host = LINK.match(item)
        if host and state.base and host.group() != state.base:
            warning = (
                f"links point at {host.group()}, not at the address the client used "
                f"({state.base}): a client following them bypasses it"
            )
            if warning not in observation.warnings:
                observation.warnings.append(warning)
        return LINK.sub("", item)

    headers = dict(value["headers"])
    if "location" in headers:
        headers["location"] = strip("location", headers["location"])
    return {**value, "headers": headers, "body": transform(value["body"], strip)}


def _timestamp_shape(match: re.Match[str]) -> str:
    fraction = " .f" if match.group(2) else ""
    zone = match.group(3) or "no zone"
    return f"<timestamp{fraction} {'Z' if zone == 'Z' else zone}>"


def mask_timestamps(observation: Observation, value: Value, state: RunState) -> Value:
    def leaf(key: str | None, item: Any) -> Any:
        if isinstance(item, str):
            match = TIMESTAMP.match(item)
            if match:
                return _timestamp_shape(match)
        return item

    return {**value, "body": transform(value["body"], leaf)}


def mask_secrets(observation: Observation, value: Value, state: RunState) -> Value:
    def leaf(key: str | None, item: Any) -> Any:
        return "<token>" if key in SECRET_KEYS and isinstance(item, str) and item else item

    return {**value, "body": transform(value["body"], leaf)}


def run_tag(observation: Observation, value: Value, state: RunState) -> Value:
    if not state.tag:
        return value
    pattern = re.compile(re.escape(f"parity-{state.tag}"), re.IGNORECASE)

    def leaf(key: str | None, item: Any) -> Any:
        if not isinstance(item, str):
            return item
        return pattern.sub(
            lambda m: "PARITY-<run>" if m.group().isupper() else "parity-<run>", item
        )

    return {**value, "body": transform(value["body"], leaf)}


def _is_id_key(key: str) -> bool:
    return key == "id" or key.endswith("_id")


def number_ids(observation: Observation, value: Value, state: RunState) -> Value:
    def name(raw: str) -> str:
        if raw not in state.ids:
            state.ids[raw] = f"<id:{len(state.ids) + 1}>"
        return state.ids[raw]

    def leaf(key: str | None, item: Any) -> Any:
        if isinstance(item, str):
            if key is not None and _is_id_key(key) and HEX_ID.match(item):
                return name(item.lower())
            return UUID.sub(lambda m: name(m.group().lower().replace("-", "")), item)
        if (
            key is not None
            and _is_id_key(key)
            and isinstance(item, int)
            and not isinstance(item, bool)
        ):
            return name(f"int:{item}")
        return item

    headers = {k: leaf(k, v) for k, v in value["headers"].items()}
    return {**value, "headers": headers, "body": transform(value["body"], leaf)}


NORMALIZERS: list[Normalizer] = [
    Normalizer(
        "refused_for_stock", "409 at once and saga-cancelled(out_of_stock)", refused_for_stock
    ),
    Normalizer("drop_refused_orders", "orders refused for stock leave lists", drop_refused_orders),
    Normalizer("sort_unordered", "lists whose order the API does not promise", sort_unordered),
    Normalizer("debug_pages", "Django's DEBUG pages list each server's URLs", debug_pages),
    Normalizer("strip_hosts", "each side's own host in links", strip_hosts),
    Normalizer("mask_timestamps", "clock readings", mask_timestamps),
    Normalizer("mask_secrets", "signed tokens", mask_secrets),
    Normalizer("run_tag", "names the run made up", run_tag),
    Normalizer("number_ids", "generated identifiers", number_ids),
]
STRICT: list[Normalizer] = [
    n for n in NORMALIZERS if n.name not in ("refused_for_stock", "drop_refused_orders")
]
