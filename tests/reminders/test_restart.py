"""A reminder survives its process being killed (kill -9) before it is due, and is then
delivered exactly once, late and saying so, although two processes look for it (real
subprocesses, on SQLite and on PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import Store

ROOT = Path(__file__).resolve().parents[2]


async def worker(db: str, log: Path, owner: str, until: datetime,
                 *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.reminder_worker", db, str(log), owner,
        until.isoformat(), *extra, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


async def test_killed_before_due_then_delivered_once_after_restart(
        store_url: str | None, tmp_path: Path) -> None:
    db = store_url or str(tmp_path / "reminders.db")
    log = tmp_path / "delivered.log"
    first = await worker(db, log, "first", datetime.now(UTC) + timedelta(minutes=5),
                         "create", "4")
    assert first.stdout is not None
    created = (await asyncio.wait_for(first.stdout.readline(), 60)).decode().split()
    assert created[0] == "created"
    due = datetime.fromisoformat(created[2])
    assert datetime.now(UTC) < due  # killed before it is due
    os.kill(first.pid, signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL
    assert not log.exists()

    await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1.5)
    until = datetime.now(UTC) + timedelta(seconds=4)
    restarted = [await worker(db, log, name, until) for name in ("second", "third")]
    for process in restarted:
        out, _ = await asyncio.wait_for(process.communicate(), 90)
        assert process.returncode == 0 and out.decode().strip().endswith("done")

    lines = log.read_text().splitlines()
    assert len(lines) == 1, lines
    owner, reminder_id, text = lines[0].split("\t")
    assert owner in ("second", "third") and reminder_id == created[1]
    assert text.startswith("⏰ Reminder: call the bank (late by ")
    store = await (Store.connect(db) if store_url else Store.open(db))
    try:
        ada = await store.ensure_user("local", "ada")
        assert await store.reminders(ada) == []  # delivered: nothing left to come
    finally:
        await store.close()
