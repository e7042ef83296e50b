"""Database ownership: migrations, refusal of newer schemas, and a CHECKPOINT that survives busy work."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pytest

from app.db import Database, DatabaseClosed
from app.schema import SCHEMA_VERSION


def wal_of(db: Database) -> Path:
    return db.wal_path


def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.duckdb")
    db.open()
    assert db.schema_version == SCHEMA_VERSION and db.is_current
    db.close()
    again = Database(tmp_path / "a.duckdb")
    again.open()
    with again.cursor() as cur:
        versions = [row[0] for row in cur.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    again.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION + 1])
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this release"):
        Database(path).open()


def test_close_checkpoints_while_a_writer_is_mid_transaction(tmp_path: Path) -> None:
    db = Database(tmp_path / "busy.duckdb")
    db.open()
    with db.write() as cur:
        cur.execute("CREATE TABLE kept AS SELECT range AS i FROM range(1000)")
    inside = threading.Event()
    outcome: list[str] = []

    def stuck_writer() -> None:
        try:
            with db.write() as cur:
                cur.execute("INSERT INTO kept SELECT range FROM range(5)")
                inside.set()
                time.sleep(30)  # never commits in time: close() must not wait for it forever
        except Exception as error:  # noqa: BLE001
            outcome.append(type(error).__name__)

    thread = threading.Thread(target=stuck_writer, daemon=True)
    thread.start()
    assert inside.wait(10)
    started = time.monotonic()
    assert db.close(wait_seconds=0.5) is not None
    assert time.monotonic() - started < 20
    assert not wal_of(db).exists()
    with pytest.raises(DatabaseClosed):
        with db.cursor():
            pass
    conn = duckdb.connect(str(tmp_path / "busy.duckdb"))
    assert conn.execute("SELECT count(*) FROM kept").fetchone()[0] == 1000  # the uncommitted 5 are gone
    conn.close()


def test_close_interrupts_a_long_query(tmp_path: Path) -> None:
    db = Database(tmp_path / "long.duckdb")
    db.open()
    errors: list[BaseException] = []
    running = threading.Event()

    def long_query() -> None:
        try:
            with db.cursor() as cur:
                running.set()
                cur.execute("SELECT count(*) FROM range(10000000000) a, range(10) b WHERE a.range % 7 = b.range")
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    thread = threading.Thread(target=long_query, daemon=True)
    thread.start()
    assert running.wait(10)
    time.sleep(0.3)
    db.close(wait_seconds=0.2)
    thread.join(10)
    assert not thread.is_alive()
    assert errors and "INTERRUPT" in str(errors[0]).upper()
    assert not wal_of(db).exists()


def test_migration_5_backfills_ground_truth_categories_of_existing_samples(tmp_path: Path, monkeypatch) -> None:
    import app.db as dbmod

    path = tmp_path / "v4.duckdb"
    monkeypatch.setattr(dbmod, "MIGRATIONS", [m for m in dbmod.MIGRATIONS if m[0] <= 4])
    monkeypatch.setattr(dbmod, "SCHEMA_VERSION", 4)
    old = Database(path)
    old.open()
    with old.write() as cur:
        cur.execute("INSERT INTO samples (id, dataset_id, file_name, path) VALUES (1, 1, 'a', '/a'), (2, 1, 'b', '/b')")
        cur.execute(
            "INSERT INTO annotations (id, dataset_id, sample_id, category_id, x, y, w, h, area, iscrowd, source) "
            "VALUES (1, 1, 1, 7, 0, 0, 1, 1, 1, false, 'ground_truth'),"
            " (2, 1, 1, 3, 0, 0, 1, 1, 1, false, 'ground_truth'),"
            " (3, 1, 1, 7, 0, 0, 1, 1, 1, false, 'ground_truth'),"
            " (4, 1, 2, 9, 0, 0, 1, 1, 1, false, 'run-a')"
        )
    old.close()
    monkeypatch.undo()

    db = Database(path)
    db.open()
    assert db.schema_version == SCHEMA_VERSION
    with db.cursor() as cur:
        rows = cur.execute("SELECT id, gt_category_ids FROM samples ORDER BY id").fetchall()
    assert rows == [(1, [3, 7]), (2, [])]  # predictions are not ground truth
    db.close()


def test_the_roles_memory_limit_reaches_duckdb(tmp_path: Path) -> None:
    # The value the role derives below MemoryMax (systemd/datavisor.env: 50 % of 4G), through Settings, as the
    # lifespan passes it: DuckDB spills to disk at this limit instead of its default of 80 % of the host's RAM.
    from app.config import load_settings

    settings = load_settings(_env_file=None, duckdb_memory_limit="2048MiB")
    db = Database(tmp_path / "m.duckdb", {"memory_limit": settings.duckdb_memory_limit})
    db.open()
    with db.cursor() as cur:
        assert cur.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "2.0 GiB"
    db.close()
