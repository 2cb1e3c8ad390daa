"""`python -m bench knowledge`: how often the server's-documents search finds the right
passage, and how long it takes.

Four public documents that Debian and CPython ship are added to one space, as an admin
would with /knowledge add: the GPL version 3, the Apache License 2.0 and the Mozilla
Public License 2.0 (/usr/share/common-licenses/) and CPython's LICENSE
(the running Python's LICENSE.txt). The questions (bench/data/knowledge_questions.tsv)
were written by hand against passages of them; a question is a hit when one of the
passages `Knowledge.find` returns (at most 3, as the pipeline uses) contains its phrase.
Every 5th question is held out: the figures are given for both parts.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bot.config import load_settings
from bot.knowledge import Knowledge
from bot.store import Store

QUESTIONS = Path(__file__).parent / "data" / "knowledge_questions.tsv"
SPACE = "discord:bench"
HELD_OUT_EVERY = 5  # rows 5, 10, 15... (1-based) are the held-out 20%


def documents() -> dict[str, Path]:
    """The documents the questions were written against, by the name the TSV uses."""
    licenses = Path("/usr/share/common-licenses")
    python_license = Path(sys.base_prefix) / "lib" / (
        f"python{sys.version_info.major}.{sys.version_info.minor}") / "LICENSE.txt"
    return {"GPL-3": licenses / "GPL-3", "Apache-2.0": licenses / "Apache-2.0",
            "MPL-2.0": licenses / "MPL-2.0", "Python": python_license}


@dataclass(frozen=True)
class Question:
    """One question, the document it is about, and a phrase of the right passage."""

    document: str
    text: str
    phrase: str
    held_out: bool


def questions(path: Path = QUESTIONS) -> list[Question]:
    """The question set, in file order."""
    rows = [line.rstrip("\n").split("\t") for line in path.read_text("utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    return [Question(doc, text, phrase, (number % HELD_OUT_EVERY) == 0)
            for number, (doc, text, phrase) in enumerate(rows, start=1)]


def _flat(text: str) -> str:
    return " ".join(text.replace("*", " ").split())


async def measure(store: Store, knowledge: Knowledge) -> dict[str, object]:
    """Add the documents, ask every question; the figures."""
    sources = documents()
    missing = [str(p) for p in sources.values() if not p.exists()]
    if missing:
        raise SystemExit(f"bench knowledge needs {', '.join(missing)} (Debian's base-files "
                         "and the Python it runs on)")
    for name, path in sources.items():
        said = await knowledge.add(SPACE, f"{name}.txt", path.read_bytes(), "bench")
        if not said.startswith("Added"):
            raise SystemExit(f"could not add {path}: {said}")
    asked = questions()
    hits: list[bool] = []
    latencies: list[float] = []
    for question in asked:
        start = time.perf_counter()
        found = await knowledge.find(SPACE, question.text)
        latencies.append((time.perf_counter() - start) * 1000)
        phrase = _flat(question.phrase)
        hits.append(any(p.title == f"{question.document}.txt" and phrase in _flat(p.body)
                        for p in found[:3]))

    def rate(selected: list[bool]) -> float:
        return round(sum(selected) / len(selected), 3) if selected else 0.0

    tune = [hit for hit, q in zip(hits, asked, strict=True) if not q.held_out]
    held = [hit for hit, q in zip(hits, asked, strict=True) if q.held_out]
    docs = await knowledge.documents(SPACE)
    return {
        "questions": len(asked),
        "documents": {d.title: d.passages for d in docs},
        "sources": {name: str(path) for name, path in sources.items()},
        "hit_rate_top3": rate(hits),
        "hit_rate_top3_tune": rate(tune),
        "hit_rate_top3_held_out": rate(held),
        "held_out_questions": len(held),
        "latency_ms_p50": round(statistics.median(latencies), 3),
        "latency_ms_p95": round(sorted(latencies)[int(len(latencies) * 0.95) - 1], 3),
        "database": store.dialect,
        "misses": [q.text for hit, q in zip(hits, asked, strict=True) if not hit],
    }


async def run(database_url: str | None = None) -> dict[str, object]:
    """The figures on a fresh SQLite file (or the empty PostgreSQL database given)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(database_path=Path(tmp) / "bench.db")
        store = await (Store.connect(database_url) if database_url
                       else Store.open(settings.database_path))
        try:
            return await measure(store, Knowledge(settings, store))
        finally:
            await store.close()


def table(figures: dict[str, object]) -> str:
    """The figures for a person."""
    lines = [f"documents: {figures['documents']}",
             f"questions: {figures['questions']} ({figures['held_out_questions']} held out)",
             f"hit rate (right passage in top 3): {figures['hit_rate_top3']} "
             f"(tune {figures['hit_rate_top3_tune']}, held out "
             f"{figures['hit_rate_top3_held_out']})",
             f"search latency: p50 {figures['latency_ms_p50']} ms, "
             f"p95 {figures['latency_ms_p95']} ms ({figures['database']})"]
    misses = figures["misses"]
    assert isinstance(misses, list)
    lines += [f"  missed: {text}" for text in misses]
    return "\n".join(lines)


def main(database_url: str | None = None) -> dict[str, object]:
    """Run the bench in its own event loop."""
    return asyncio.run(run(database_url))
