"""Crash safety with real processes and real files: kill -9 mid-answer, a full disk,
a vanished model file. Nothing committed is lost and the database stays sound."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.config import Settings
from bot.engine import ChatMessage, LlamaEngine, SamplingParams
from bot.engine.gguf import ModelFileError
from bot.pipeline.assistant import Inbound
from bot.pipeline.runtime import open_runtime
from bot.store import Store, StoreError


def _env(db: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_PATH": str(db), "N_THREADS": "2", "TEMPERATURE": "0",
            **extra}


def _rows(db: Path) -> list[tuple[str, str, str]]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return []  # not created yet
    try:
        return conn.execute("SELECT role, status, content FROM messages ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def test_kill_9_mid_answer_loses_nothing_committed(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    # pro answers run to 1,000 tokens: long enough to be killed mid-way on any machine
    subprocess.run([sys.executable, "-m", "bot", "premium", "grant", "local:ada", "pro"],
                   check=True, capture_output=True, cwd=tmp_path, env=_env(db), timeout=60)
    chat = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--as", "ada"], stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
        env=_env(db, MAX_REPLY_TOKENS="1000"))
    assert chat.stdin is not None
    chat.stdin.write(b"Write a very long story about a lighthouse keeper.\n")
    chat.stdin.flush()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until a checkpoint holds a sentence's worth
        if any(r[:2] == ("assistant", "streaming") and len(r[2]) > 20 for r in _rows(db)):
            break
        time.sleep(0.05)
    chat.send_signal(signal.SIGKILL)
    chat.wait(30)

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    rows = _rows(db)
    assert rows[0][:3] == ("user", "complete",
                           "Write a very long story about a lighthouse keeper.")
    assert rows[1][:2] == ("assistant", "streaming")  # what the dead process left
    assert len(rows[1][2]) > 20  # the checkpointed text the user had already seen

    again = subprocess.run([sys.executable, "-m", "bot", "chat", "--as", "ada"],
                           input="Please continue.\n", capture_output=True, text=True,
                           cwd=tmp_path, env=_env(db, MAX_REPLY_TOKENS="16"), timeout=300)
    assert again.returncode == 0, again.stderr
    rows = _rows(db)
    assert [r[:2] for r in rows] == [("user", "complete"), ("assistant", "interrupted"),
                                     ("user", "complete"), ("assistant", "complete")]


async def test_full_disk_is_a_clear_error_and_no_corruption(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "full.db")
    user = await store.ensure_user("local", "ada")
    conversation = await store.open_conversation(user, "t")
    await store.add_message(conversation, "user", "kept")
    row = await store.driver.fetchrow("PRAGMA page_count")
    assert row is not None
    async with store.driver.transaction() as writer:  # the connection that writes
        await writer.execute(f"PRAGMA max_page_count = {row[0] + 1}")  # the disk is now full
    with pytest.raises(StoreError, match="disk is full"):
        await store.add_message(conversation, "user", "x" * 200_000)
    assert [m.content for m in await store.messages(conversation)] == ["kept"]
    assert await store.integrity_check() == "ok"
    await store.close()


async def test_model_file_vanishing_while_running(settings: Settings, tmp_path: Path) -> None:
    copy = tmp_path / "model.gguf"
    shutil.copy(settings.model_path, copy)
    engine = LlamaEngine(settings.model_copy(update={"model_path": copy}))
    await engine.start()
    try:
        copy.unlink()  # the weights are mapped: answering goes on
        result = await engine.submit([ChatMessage("user", "Hi")],
                                     SamplingParams(max_tokens=8, temperature=0)).result()
        assert result.stop_reason in ("stop", "length")
    finally:
        await engine.close()
    restart = LlamaEngine(settings.model_copy(update={"model_path": copy}))
    with pytest.raises(ModelFileError, match="not found"):
        await restart.start()


async def test_locked_database_during_a_message_is_a_clear_error(settings: Settings) -> None:
    async with open_runtime(settings) as runtime:
        await runtime.store.driver.execute("PRAGMA busy_timeout = 100")
        blocker = sqlite3.connect(settings.database_path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StoreError, match="locked"):
                await runtime.assistant.handle(Inbound("local", "ada", "t", "Hello"))
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        reply = await runtime.assistant.handle(Inbound("local", "ada", "t", "Hello again"))
        assert (await reply.outcome()).status == "complete"
        assert await runtime.store.integrity_check() == "ok"
