"""`carve events`: stats, dead letters and tail, as an operator runs them."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from messaging.consumer import consume_delivery
from messaging.models import DeadLetter
from messaging.testing import REPO, database_url
from messaging.tests.factories import publish_stock_changes, stock_changed
from messaging.tests.ledger.models import Effect
from messaging.tests.test_relay import relay_for_test, run_until_empty

pytestmark = pytest.mark.django_db(transaction=True)


def carve(*args):
    from carve.cli import cli

    return CliRunner().invoke(cli, ["events", *args], catch_exceptions=False)


def test_stats_show_backlog_and_lag(events):
    publish_stock_changes(["ST"], per_sku=4)
    figures = json.loads(carve("stats", "--json").output)
    assert figures["backlog"] == 4 and figures["oldest_unsent_seconds"] >= 0
    run_until_empty(relay_for_test(events))
    events.drain(until=lambda: Effect.objects.count() == 4)
    figures = json.loads(carve("stats", "--json").output)
    assert figures["backlog"] == 0
    assert figures["published_last_minute"] == 4 and figures["consumed_last_minute"] == 4
    assert figures["publish_lag"]["samples"] == 4 and figures["consume_lag"]["p99_ms"] >= 0
    assert "backlog (unpublished)" in carve("stats").output


def test_dead_letters_are_listed_and_replayed_from_the_cli(events, settings, tmp_path, monkeypatch):
    settings.CARVE_EVENTS_MAX_ATTEMPTS = 1
    monkeypatch.setenv("CARVE_TEST_FAULT_DIR", str(tmp_path))
    (tmp_path / "poison-CLI").touch()
    consume_delivery([stock_changed("CLI", 1).to_dict()], app=events.app)
    letter = DeadLetter.objects.get()
    listed = carve("dlq", "list")
    assert f"{letter.id}" in listed.output and "poison pill" in listed.output
    [shown] = json.loads(carve("dlq", "list", "--json").output)
    assert (shown["id"], shown["aggregate_id"], shown["reason"]) == (letter.id, "CLI", "failed")
    assert "poison pill" in shown["error"] and shown["replayed_at"] is None

    refused = carve("dlq", "replay", "999999")
    assert refused.exit_code == 1 and "no waiting dead letter with id 999999" in refused.output
    (tmp_path / "poison-CLI").unlink()
    assert "replayed 1 dead letter(s)" in carve("dlq", "replay", "--all").output
    events.drain(until=lambda: Effect.objects.filter(aggregate_id="CLI").exists())
    assert carve("dlq", "list").output.strip() == "no dead letters"


def test_tail_follows_the_stream_with_filters(events, tmp_path):
    env = {
        **__import__("os").environ,
        **events.env(),
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "monolith.config.settings.test",
    }
    tail = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "carve",
            "events",
            "tail",
            "--json",
            "--count",
            "2",
            "--aggregate",
            "inventory.product:TAIL",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stderr is not None
        assert "following #" in tail.stderr.readline()  # bound before anything is published
        publish_stock_changes(["OTHER", "TAIL"], per_sku=2)
        run_until_empty(relay_for_test(events))
        out, err = tail.communicate(timeout=60)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(e["aggregate_id"], e["sequence"]) for e in lines] == [("TAIL", 1), ("TAIL", 2)]
    assert tail.returncode == 0, err


def test_an_unknown_service_is_a_clear_error():
    from carve.cli import cli

    result = CliRunner().invoke(cli, ["events", "--service", "billing", "stats"])
    assert result.exit_code == 2
    assert "unknown service 'billing'" in result.output
