"""HTTP for scenarios: who sends (an Actor and its token), one request, one answer.

Only the headers that say something about behaviour are kept (COMPARED_HEADERS); a
request that gets no answer is an answer too (status 0, the error as its body), so a
side that is down shows up as a difference instead of stopping the comparison.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from parity.model import Poll

COMPARED_HEADERS = ("content-type", "allow", "www-authenticate", "location", "idempotent-replayed")


class ScenarioError(Exception):
    """A set-up step did not do what the scenario needs; the scenario stops."""


@dataclass(frozen=True)
class Actor:
    name: str  # the part it plays in the scenario: "alice", "staff", "anonymous"
    username: str = ""
    token: str | None = None


ANONYMOUS = Actor("anonymous")


@dataclass(frozen=True)
class Answer:
    path: str  # what was sent: the template filled in, and the query
    status: int
    headers: dict[str, str]
    body: Any


def login(base: str, username: str, password: str, timeout: float = 30.0) -> str:
    """A bearer token for `username`, or ScenarioError saying why not."""
    answer = requests.post(
        f"{base}/api/users/token/",
        json={"username": username, "password": password},
        timeout=timeout,
    )
    if answer.status_code != 200:
        raise ScenarioError(f"cannot log in as {username!r} at {base}: {refusal(answer)}")
    return str(answer.json()["token"])


def refusal(answer: requests.Response) -> str:
    """What a failed login answer says, in a line a person reads (never a page of HTML)."""
    status = f"{answer.status_code} {answer.reason or ''}".strip()
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("detail"):
        return f"{status}: {body['detail']}"
    if answer.status_code == 404:
        return (
            f"{status}: no login endpoint at {answer.url}; give the address of the "
            "deployment's monolith or proxy (the one that serves /api/users/token/)"
        )
    if "html" in answer.headers.get("Content-Type", ""):
        title = re.search(r"<title>(.*?)</title>", answer.text, re.DOTALL | re.IGNORECASE)
        page = f"an HTML page ({' '.join(title[1].split())!r})" if title else "an HTML page"
        return f"{status}, {page} instead of a token"
    text = " ".join(answer.text.split())
    return f"{status}: {text[:120]}" if text else status


def fill(template: str, params: Mapping[str, Any], query: Mapping[str, Any] | None) -> str:
    """`/api/orders/{order}/` with its parameters (each quoted as one segment) and query."""
    path = template.format(**{k: urllib.parse.quote(str(v), safe="") for k, v in params.items()})
    return path + ("?" + urllib.parse.urlencode(query) if query else "")


def send(
    http: requests.Session,
    base: str,
    method: str,
    path: str,
    actor: Actor,
    *,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Answer:
    sent = dict(headers or {})
    if actor.token:
        sent["Authorization"] = f"Bearer {actor.token}"
    try:
        # Redirects are answers to compare, not to follow.
        answer = http.request(
            method, base + path, json=json, headers=sent, timeout=timeout, allow_redirects=False
        )
    except requests.RequestException as exc:
        return Answer(path, 0, {}, f"no answer: {exc}")
    kept = {name: answer.headers[name] for name in COMPARED_HEADERS if name in answer.headers}
    if "content-type" in kept:
        kept["content-type"] = kept["content-type"].split(";", 1)[0].strip().lower()
    try:
        body: Any = answer.json() if answer.content else None
    except ValueError:
        body = answer.text
    return Answer(path, answer.status_code, kept, body)


def poll_until(
    fetch: Callable[[], Answer], until: Callable[[Any], bool], condition: str, deadline: float
) -> tuple[Answer, Poll]:
    """Fetch until `until(body)` holds or `deadline` seconds pass; the last answer.

    The pause doubles from 50 ms to 1 s: quick when the state is nearly there, gentle on
    a loaded machine when it is not. A body the condition cannot read is "not yet".
    """
    started = time.monotonic()
    stop = started + deadline
    pause, attempts = 0.05, 0
    while True:
        attempts += 1
        answer = fetch()
        try:
            reached = bool(until(answer.body))
        except (KeyError, IndexError, TypeError, ValueError):
            reached = False
        if reached or time.monotonic() >= stop:
            return answer, Poll(condition, reached, attempts, time.monotonic() - started)
        time.sleep(min(pause, max(0.0, stop - time.monotonic())))
        pause = min(pause * 2, 1.0)
