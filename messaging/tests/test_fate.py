"""The fate of an event of a delivery, as a table of cases (messaging.fate.decide).

MAX is CARVE_EVENTS_MAX_ATTEMPTS (a handler that keeps failing), GAP is
CARVE_EVENTS_GAP_ATTEMPTS (an event whose predecessor does not come): deliberately
different, and GAP larger, so that a case using the wrong cap shows.
"""

import pytest

from messaging.fate import Facts, Fate, Outcome, Try, decide

MAX, GAP = 3, 7
DEAD, T = Outcome.DEAD, Try

CASES = [
    # (facts, fate)
    # An inbox row settles it, whatever else is true.
    (Facts(in_inbox=True), Fate(Outcome.DUPLICATE)),
    (Facts(in_inbox=True, attempts=99, tried=T.HANDLER_ERROR), Fate(Outcome.DUPLICATE)),
    # Before a try: go ahead unless past the cap of what the last try recorded.
    (Facts(attempts=1), Fate(Outcome.TRY)),
    (Facts(attempts=MAX, last=T.UNRECORDED), Fate(Outcome.TRY)),
    (Facts(attempts=MAX + 1, last=T.UNRECORDED), Fate(DEAD, "worker_lost")),
    (Facts(attempts=MAX, last=T.HANDLER_ERROR), Fate(Outcome.TRY)),
    (Facts(attempts=MAX + 1, last=T.HANDLER_ERROR), Fate(DEAD, "failed")),
    # a late predecessor: its successor is not dead at MAX + 1, it waits up to GAP
    (Facts(attempts=MAX + 1, last=T.EARLY), Fate(Outcome.TRY)),
    (Facts(attempts=GAP, last=T.EARLY), Fate(Outcome.TRY)),
    (Facts(attempts=GAP + 1, last=T.EARLY), Fate(DEAD, "out_of_order")),
    # After a try that finished: that is the outcome, whatever the attempts.
    (Facts(attempts=1, tried=T.APPLIED), Fate(Outcome.APPLIED)),
    (Facts(attempts=GAP + 5, tried=T.APPLIED), Fate(Outcome.APPLIED)),
    (Facts(attempts=1, tried=T.DUPLICATE), Fate(Outcome.DUPLICATE)),
    (Facts(attempts=1, tried=T.STALE), Fate(Outcome.STALE)),
    (Facts(attempts=1, tried=T.IGNORED), Fate(Outcome.IGNORED)),
    # The infrastructure failed: back to the queue, never dead, whatever the attempts.
    (Facts(attempts=0, tried=T.INFRASTRUCTURE), Fate(Outcome.INFRASTRUCTURE_RETRY)),
    (Facts(attempts=GAP + 5, tried=T.INFRASTRUCTURE), Fate(Outcome.INFRASTRUCTURE_RETRY)),
    # A predecessor missing: wait, counted against GAP, dead as out_of_order at GAP.
    (Facts(attempts=1, tried=T.EARLY), Fate(Outcome.WAITING)),
    (Facts(attempts=MAX, tried=T.EARLY), Fate(Outcome.WAITING)),
    (Facts(attempts=GAP - 1, tried=T.EARLY), Fate(Outcome.WAITING)),
    (Facts(attempts=GAP, tried=T.EARLY), Fate(DEAD, "out_of_order")),
    # The handler failed: retried, counted against MAX, dead as failed at MAX.
    (Facts(attempts=1, tried=T.HANDLER_ERROR), Fate(Outcome.HANDLER_RETRY)),
    (Facts(attempts=MAX - 1, tried=T.HANDLER_ERROR), Fate(Outcome.HANDLER_RETRY)),
    (Facts(attempts=MAX, tried=T.HANDLER_ERROR), Fate(DEAD, "failed")),
    # ... also when the tries before were early ones (the cap is this try's kind).
    (Facts(attempts=MAX, tried=T.HANDLER_ERROR, last=T.EARLY), Fate(DEAD, "failed")),
    (Facts(attempts=MAX, tried=T.EARLY, last=T.HANDLER_ERROR), Fate(Outcome.WAITING)),
    # A schema version this consumer does not know: parked at once.
    (Facts(attempts=1, tried=T.NEWER_VERSION), Fate(DEAD, "unknown_schema_version")),
]


@pytest.mark.parametrize(("facts", "fate"), CASES, ids=[repr(facts) for facts, _ in CASES])
def test_the_fate_of_an_event(facts, fate):
    assert decide(facts, max_attempts=MAX, gap_attempts=GAP) == fate
