"""servicekit.sqlite3: writers queue on a lock file beside the database; readers never do."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
from pathlib import Path

import pytest
from django.db import OperationalError

from servicekit.sqlite3.base import DatabaseWrapper


def open_database(path: Path, *, timeout: float = 5.0) -> DatabaseWrapper:
    settings = {
        "ENGINE": "servicekit.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "timeout": timeout,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        },
        "ATOMIC_REQUESTS": False,
        "AUTOCOMMIT": True,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "TIME_ZONE": None,
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "TEST": {},
    }
    return DatabaseWrapper(settings, alias=f"writelock-{os.getpid()}")


def lock_is_free(database: Path) -> bool:
    """Whether another process could take the write lock right now."""
    fd = os.open(f"{database}.writelock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # also lets go of the lock if it was taken
    return True


@pytest.fixture(autouse=True)
def _own_databases(django_db_blocker):
    # These tests open their own SQLite files, never the test database.
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "service.sqlite3"
    db = open_database(path)
    db.cursor().execute("CREATE TABLE item (id INTEGER PRIMARY KEY, who TEXT)")
    db.close()
    return path


def rows(path: Path) -> list[str]:
    db = open_database(path)
    try:
        cursor = db.cursor()
        cursor.execute("SELECT who FROM item ORDER BY id")
        return [who for (who,) in cursor.fetchall()]
    finally:
        db.close()


def test_a_transaction_holds_the_lock_until_commit_and_rollback_lets_it_go(database):
    db = open_database(database)
    cursor = db.cursor()
    cursor.execute("BEGIN IMMEDIATE")
    cursor.execute("INSERT INTO item (who) VALUES (%s)", ["first"])
    assert not lock_is_free(database)
    db.commit()
    assert lock_is_free(database)
    cursor.execute("BEGIN IMMEDIATE")
    cursor.execute("INSERT INTO item (who) VALUES (%s)", ["undone"])
    db.rollback()
    assert lock_is_free(database)
    db.close()
    assert rows(database) == ["first"]


def test_a_write_in_autocommit_takes_the_lock_for_itself_and_a_read_takes_none(database):
    db = open_database(database)
    cursor = db.cursor()
    cursor.execute("INSERT INTO item (who) VALUES (%s)", ["alone"])
    assert lock_is_free(database)
    holder = os.open(f"{database}.writelock", os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        cursor.execute("SELECT count(*) FROM item")  # would wait (and time out) if it locked
        assert cursor.fetchone() == (1,)
    finally:
        os.close(holder)
        db.close()


def _hold_then_commit(path: str, holding, release) -> None:
    db = open_database(Path(path))
    cursor = db.cursor()
    cursor.execute("BEGIN IMMEDIATE")
    cursor.execute("INSERT INTO item (who) VALUES (%s)", ["holder"])
    holding.set()
    release.wait(30)
    db.commit()
    db.close()


def test_a_writer_waits_for_another_process_then_writes_after_it(database):
    context = multiprocessing.get_context("fork")
    holding, release = context.Event(), context.Event()
    child = context.Process(target=_hold_then_commit, args=(str(database), holding, release))
    child.start()
    try:
        assert holding.wait(30)
        assert not lock_is_free(database)
        release.set()
        db = open_database(database)
        db.cursor().execute("INSERT INTO item (who) VALUES (%s)", ["waiter"])
        db.close()
    finally:
        release.set()
        child.join(30)
    assert child.exitcode == 0
    assert rows(database) == ["holder", "waiter"]


def test_a_writer_that_waits_too_long_is_told_which_lock_it_waited_for(database):
    holder = os.open(f"{database}.writelock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)
    db = open_database(database, timeout=0.2)
    try:
        with pytest.raises(OperationalError, match=r"database is locked.*writelock"):
            db.cursor().execute("INSERT INTO item (who) VALUES (%s)", ["late"])
    finally:
        os.close(holder)
        db.close()
    assert rows(database) == []


def test_a_forked_child_never_unlocks_its_parents_lock(database):
    db = open_database(database)
    cursor = db.cursor()
    cursor.execute("BEGIN IMMEDIATE")
    lock = db.write_lock
    assert lock is not None and lock.held

    def child() -> None:
        lock.release()  # the inherited lock is the parent's: left alone
        os._exit(0 if not lock_is_free(database) else 1)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(30)
    assert process.exitcode == 0
    assert not lock_is_free(database)
    db.rollback()
    db.close()
