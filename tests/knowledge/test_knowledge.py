"""A server's documents end to end: reading (Markdown, numbered clauses, PDF), the
terminal's /knowledge, WhatsApp and Discord-server answers through the real model with
their sources, isolation between servers, the tier's budget, and `causette knowledge`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings
from bot.console import ConsoleIO, run_chat
from bot.engine import ChatMessage
from bot.knowledge import query_terms, read_document
from bot.knowledge.reading import UnreadableDocument
from bot.pipeline.replies import Inbound
from bot.pipeline.runtime import Runtime
from tests.support.pdf import tiny_pdf
from tests.support.whatsapp import delivery, text

RULES = """# Club rules

## Guests

Members may bring two guests per visit. Guests sign the visitors book at the entrance.

## Opening hours

The club house opens at nine and closes at ten, every day except Mondays.
"""


def test_reading_keeps_sections() -> None:
    markdown = read_document("rules.md", RULES.encode())
    assert markdown.kind == "markdown"
    assert [s for s, _ in markdown.passages] == ["Guests", "Opening hours"]
    clauses = read_document("terms.txt", b"TERMS\n\n1. Definitions. A word means a word.\n\n"
                            b"2. Grant of Licence. You may copy it.\n")
    assert [s for s, _ in clauses.passages] == ["1. Definitions", "2. Grant of Licence"]
    pdf = read_document("menu.pdf", tiny_pdf("Soup of the day is pumpkin"))
    assert pdf.passages == [("page 1", "Soup of the day is pumpkin")]
    for name, data in (("x.exe", b"MZ"), ("empty.txt", b"  \n\n"), ("bad.pdf", b"%PDF-1.4 x"),
                       ("bin.txt", b"\x00\x01\x02")):
        with pytest.raises(UnreadableDocument):
            read_document(name, data)


def test_query_terms_drop_common_words_in_both_languages() -> None:
    assert query_terms("How many guests can a member bring?") == [
        "many", "guests", "member", "bring"]
    assert query_terms("Combien d'invités un membre peut-il amener ?") == [
        "invités", "membre", "amener"]


async def test_terminal_knowledge_through_the_real_model(runtime: Runtime,
                                                         tmp_path: Path) -> None:
    rules = tmp_path / "rules.md"
    rules.write_text(RULES, "utf-8")
    out = io.StringIO()
    stdin = io.StringIO(f"/knowledge add {rules}\n/knowledge list\n"
                        "How many guests can a member bring?\n/knowledge add /nope/x.txt\n"
                        "/knowledge\n/knowledge remove 1\n/knowledge list\n")
    code = await run_chat(runtime.assistant, "ada", ConsoleIO(stdin, out, interactive=False))
    assert code == 0
    shown = out.getvalue()
    assert "Added rules.md: 2 passages indexed." in shown
    assert "1. rules.md (2 passages" in shown
    assert "\nSources: rules.md, Guests\n" in shown
    assert "I can't open /nope/x.txt: No such file or directory" in shown
    assert "Usage: /knowledge add FILE | list | remove N" in shown
    assert "Removed rules.md and its passages." in shown
    assert shown.rstrip().endswith("No documents yet. Admins add them with /knowledge add.")
    turns = await runtime.assistant.history("local", "ada", "terminal")
    assert turns[-1].role == "assistant" and turns[-1].status == "complete"
    assert "Sources" not in turns[-1].content  # the stored answer is the model's words


async def test_a_server_never_reads_another_servers_documents(runtime: Runtime) -> None:
    assistant = runtime.assistant
    await assistant.knowledge.add("discord:1", "rules.md", RULES.encode(), "discord:9")

    async def ask(guild: str) -> tuple[str, str]:
        inbound = Inbound("discord", "42", f"guild:{guild}:7",
                          "How many guests can a member bring?", guild_ref=f"discord:{guild}")
        reply = await assistant.handle(inbound)
        outcome = await reply.outcome()
        assert outcome.status == "complete"
        return outcome.shown_text, reply.sources

    shown, sources = await ask("1")
    assert sources == "Sources: rules.md, Guests" and shown.endswith(sources)
    shown, sources = await ask("2")
    assert sources == "" and "Sources" not in shown


async def test_passages_fit_the_tiers_budget(runtime: Runtime) -> None:
    planner, engine = runtime.assistant.planner, runtime.engine
    long = " ".join(["Members may bring two guests per visit."] * 80)
    passages = [("rules.md, Guests", long), ("rules.md, Hours", "Open at nine.")]
    lines = planner.knowledge_lines(passages, 120)
    assert len(lines) == 1 and lines[0].endswith('…"')  # the best one, cut to fit
    assert engine.count_tokens(lines[0] + "\n") <= 120
    both = planner.knowledge_lines([passages[1], ("a, b", "Short too.")], 120)
    assert len(both) == 2
    plan = planner.plan("system", [], "question", knowledge=passages, knowledge_tokens=0)
    assert plan.knowledge_used == 0 and plan.messages[0] == ChatMessage("system", "system")


async def test_whatsapp_answer_cites_its_sources_through_the_real_model(
        settings: Settings) -> None:
    from tests.test_whatsapp import start

    async for wa in start(settings):
        await wa.runtime.assistant.knowledge.add("whatsapp", "rules.md", RULES.encode(),
                                                 "operator")
        assert await wa.post(delivery(text("wamid.K1", "How many guests can a member "
                                           "bring?"))) == 200
        answer = wa.graph.texts()[-1]
        # The test sender is a French number: WhatsApp answers in its language.
        assert answer.rstrip().endswith("Sources : rules.md, Guests")


def test_causette_knowledge_cli(tmp_path: Path, settings: Settings) -> None:
    rules = tmp_path / "rules.md"
    rules.write_text(RULES, "utf-8")
    env = {**os.environ, "DATABASE_PATH": str(tmp_path / "cli.db"),
           "MODEL_PATH": str(settings.model_path)}

    def causette(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "knowledge", *args], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)

    added = causette("add", str(rules))
    assert added.returncode == 0 and "Added rules.md: 2 passages" in added.stdout
    assert "1. rules.md" in causette("list").stdout
    assert "No documents yet" in causette("list", "--space", "local").stdout
    missing = causette("add", str(tmp_path / "nope.md"))
    assert missing.returncode == 1 and "cannot read" in missing.stdout
    assert causette("remove", "1").stdout.startswith("Removed rules.md")
