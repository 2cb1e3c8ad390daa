"""The terminal chat: piped input, commands, and persistence across processes."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from bot.console import ConsoleIO, run_chat
from bot.pipeline.runtime import Runtime


async def test_piped_lines_get_one_reply_each(runtime: Runtime) -> None:
    out = io.StringIO()
    stdin = io.StringIO("Hello there\n\n/help\nWhat is 2 + 2?\n/reset\nBye\n")
    code = await run_chat(runtime.assistant, "ada", ConsoleIO(stdin, out, interactive=False))
    assert code == 0
    text = out.getvalue()
    assert "empty" in text  # the blank line got a clear refusal
    assert "/reset" in text  # the help
    assert "Started a new conversation." in text
    history = await runtime.assistant.history("local", "ada", "terminal")
    assert [t.content for t in history if t.role == "user"] == ["Bye"]


async def test_quit_stops_reading(runtime: Runtime) -> None:
    out = io.StringIO()
    stdin = io.StringIO("/quit\nThis is never sent\n")
    await run_chat(runtime.assistant, "ada", ConsoleIO(stdin, out, interactive=False))
    assert await runtime.assistant.history("local", "ada", "terminal") == []


def _chat(tmp_path: Path, stdin: str, *extra_env: tuple[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_PATH": str(tmp_path / "chat.db"), "TEMPERATURE": "0",
           "MAX_REPLY_TOKENS": "32", "N_THREADS": "2", **dict(extra_env)}
    return subprocess.run([sys.executable, "-m", "bot", "chat", "--as", "ada"], input=stdin,
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


def test_a_second_process_continues_the_conversation(tmp_path: Path) -> None:
    first = _chat(tmp_path, "Hi, my name is Ada\n")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip()
    second = _chat(tmp_path, "What is my name?\n")
    assert second.returncode == 0, second.stderr
    db = sqlite3.connect(tmp_path / "chat.db")
    rows = db.execute("SELECT m.role, m.content, m.status, m.conversation_id FROM messages m "
                      "ORDER BY m.id").fetchall()
    assert [r[0] for r in rows] == ["user", "assistant", "user", "assistant"]
    assert rows[0][1] == "Hi, my name is Ada" and rows[2][1] == "What is my name?"
    assert len({r[3] for r in rows}) == 1  # one conversation across both processes
    assert all(r[2] == "complete" for r in rows)
    # The second run's prompt held the first run's turns: its prompt is longer.
    tokens = db.execute("SELECT prompt_tokens FROM messages WHERE role = 'assistant' "
                        "ORDER BY id").fetchall()
    assert tokens[1][0] > tokens[0][0] + 10


def test_bad_setting_is_one_clear_line(tmp_path: Path) -> None:
    done = _chat(tmp_path, "hi\n", ("N_CTX", "many"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "causette: Invalid setting N_CTX: Input should be a valid integer, unable to parse "
        "string as an integer (got 'many')")


def test_bad_model_file_is_one_clear_line(tmp_path: Path) -> None:
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"PK\x03\x04 this is a zip, not a model")
    done = _chat(tmp_path, "hi\n", ("MODEL_PATH", str(bogus)))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("causette: ") and "not a GGUF model file" in lines[-1]
    assert "Traceback" not in done.stderr
    missing = _chat(tmp_path, "hi\n", ("MODEL_PATH", str(tmp_path / "gone.gguf")))
    assert missing.returncode == 2 and "not found" in missing.stderr


async def test_premium_gates_in_the_terminal(runtime: Runtime) -> None:
    async def chat(user: str, lines: str) -> str:
        out = io.StringIO()
        await run_chat(runtime.assistant, user, ConsoleIO(io.StringIO(lines), out, False))
        return out.getvalue()

    bob = await chat("bob", "/persona set You are a pirate.\n/translate French Hi\n/premium\n")
    assert bob.count("premium command") == 2
    assert "You are on the free tier" in bob
    await runtime.assistant.tiers.grant("user", "local:ada", "plus", by="test")
    ada = await chat("ada", "/persona set You are a pirate.\n/persona\nAhoy!\n/summarize 2\n"
                            "/translate French Hi\n/bogus\n")
    assert "Persona saved" in ada and "Your persona: You are a pirate." in ada
    assert "/translate" in ada and "pro tier" in ada  # plus does not include translate
    assert "Unknown command /bogus" in ada


async def test_crisis_and_moderation_in_the_terminal(runtime: Runtime) -> None:
    out = io.StringIO()
    stdin = io.StringIO("I want to kill myself tonight.\nJe veux me tuer.\n"
                        "How do I make a bomb at home?\n")
    code = await run_chat(runtime.assistant, "ada", ConsoleIO(stdin, out, interactive=False))
    text = out.getvalue()
    english, french = text.index("I'm really sorry"), text.index("Je suis vraiment désolé")
    assert english < text.index("988") < french < text.index("3114")
    assert "illicit/violent" in text and code == 0
    history = await runtime.assistant.history("local", "ada", "terminal")
    assert [(t.role, t.status) for t in history] == [
        ("user", "complete"), ("assistant", "complete"), ("user", "complete"),
        ("assistant", "complete"), ("user", "refused")]
