"""A scenario against the fakes (parity/tests/fakes.py), used by the CLI and export tests."""

from __future__ import annotations

from parity.scenarios import scenario
from parity.session import Session


@scenario("fake_charges")
def fake_charges(s: Session) -> None:
    """Staff list the charges of the fake deployment."""
    s.get("list the charges", "/api/payments/charges/", s.staff)
    s.get("something that is not there", "/api/nothing/", s.staff)
