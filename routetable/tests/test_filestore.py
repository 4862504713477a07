"""What only the file store has to prove: other processes, atomicity, bad files, URLs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from routetable import Mode, RouteState, RouteTable, StoreError, open_store
from routetable.filestore import FileStore
from routetable.store import default_url, file_path

WRITE = textwrap.dedent(
    """
    import sys
    from routetable import RouteState, open_store
    store = open_store(sys.argv[1])
    for i in range(int(sys.argv[3])):
        store.set_state(sys.argv[2], RouteState.parse(f"canary {i % 100 + 1}"), who=sys.argv[2])
    """
)


def run_writer(url: str, route: str, count: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WRITE, url, route, str(count)])


def test_a_change_made_by_another_process_is_seen_within_a_second(tmp_path: Path) -> None:
    url = f"file:{tmp_path}/routes.json"
    table = RouteTable(open_store(url))
    table.refresh()
    assert run_writer(url, "payments", 6).wait(timeout=30) == 0
    deadline = time.monotonic() + 1.0
    while table.state_of("payments") != RouteState(Mode.CANARY, 6):
        assert time.monotonic() < deadline, "the change did not reach this process within 1 s"
        time.sleep(0.01)


def test_writers_in_several_processes_lose_no_change(tmp_path: Path) -> None:
    url = f"file:{tmp_path}/routes.json"
    writers = [run_writer(url, f"r{n}", 25) for n in range(3)]
    assert [w.wait(timeout=60) for w in writers] == [0, 0, 0]
    store = open_store(url)
    assert store.load().version == 75
    assert len(store.history(limit=0)) == 75


def test_a_damaged_file_is_an_error_and_the_reader_keeps_its_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    store = FileStore(path)
    store.set_state("payments", RouteState(Mode.EXTRACTED), who="ci")
    table = RouteTable(store)
    assert table.refresh()
    path.write_text("{not json")
    assert not table.refresh()
    assert table.last_error is not None and "cannot read route table" in table.last_error
    assert table.snapshot.get("payments").mode is Mode.EXTRACTED
    with pytest.raises(StoreError):
        store.set_state("payments", RouteState(), who="ci")


def test_every_write_changes_the_stamp_even_within_one_clock_tick(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "routes.json")
    stamps = set()
    for percent in (10, 20, 30, 40, 50, 60):  # same size, written as fast as possible
        store.set_state("payments", RouteState(Mode.CANARY, percent), who="ci")
        stamps.add(store.stamp())
    assert len(stamps) == 6


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "routes.json")
    for _ in range(3):
        store.set_state("payments", RouteState(Mode.SHADOW), who="ci")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["routes.json", "routes.json.lock"]


def test_default_url_is_under_the_var_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARVE_ROUTES_URL", raising=False)
    monkeypatch.setenv("CARVE_VAR_DIR", "/srv/carve")
    assert file_path(default_url()) == Path("/srv/carve/routes.json")
    monkeypatch.setenv("CARVE_ROUTES_URL", "redis://127.0.0.1:6379/0")
    assert default_url() == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("file:///tmp/r.json", "/tmp/r.json"),
        ("file:var/r.json", "var/r.json"),
        ("r.json", "r.json"),
    ],
)
def test_file_urls(url: str, path: str) -> None:
    assert file_path(url) == Path(path)


def test_an_unknown_scheme_says_what_to_use() -> None:
    with pytest.raises(StoreError, match="use file:PATH"):
        open_store("mongodb://localhost/routes")
