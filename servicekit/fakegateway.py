"""A fake card gateway with deterministic outcomes, chosen by the card token. It stands
in for the third party both the monolith and the payments service call.

tok_ok             approved
tok_declined       declined (card_declined)
tok_insufficient   declined (insufficient_funds)
tok_gateway_error  the gateway fails (gateway_error); nothing is taken
tok_slow           approved after CARVE_GATEWAY_SLOW_SECONDS
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

APPROVED = "approved"
DECLINED = "declined"
ERROR = "error"

CARD_TOKENS = {
    "tok_ok": (APPROVED, ""),
    "tok_slow": (APPROVED, ""),
    "tok_declined": (DECLINED, "card_declined"),
    "tok_insufficient": (DECLINED, "insufficient_funds"),
    "tok_gateway_error": (ERROR, "gateway_error"),
}


@dataclass(frozen=True)
class GatewayResult:
    outcome: str
    reason: str
    reference: str


def gateway_charge(*, card_token: str, amount: Decimal, currency: str) -> GatewayResult:
    outcome, reason = CARD_TOKENS[card_token]
    if card_token == "tok_slow":
        time.sleep(settings.CARVE_GATEWAY_SLOW_SECONDS)
    reference = f"gw_{uuid.uuid4().hex[:16]}" if outcome == APPROVED else ""
    return GatewayResult(outcome=outcome, reason=reason, reference=reference)


def gateway_refund(*, reference: str, amount: Decimal) -> str:
    return f"rf_{uuid.uuid4().hex[:16]}"
