"""A server's own knowledge (issue 29): documents admins add, passages found for a
question, and the sources an answer cites.

Documents live in a space: a Discord server ("discord:<guild>"), the terminal
("local") or WhatsApp ("whatsapp"); a question only ever searches its own space, and a
Discord DM searches none. Passages reach the prompt as quoted data (planning.py) within
the tier's `knowledge_tokens`; the answer ends with the documents and sections used.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from bot.config import Settings
from bot.knowledge.reading import Document, UnreadableDocument, kind_of, read_document
from bot.locales import t
from bot.store import KnowledgeDoc, Passage, Store

__all__ = ["Document", "Knowledge", "UnreadableDocument", "kind_of", "query_terms",
           "read_document", "space_of"]

# Words too common to say what a question is about (English and French).
STOPWORDS = frozenset("""
a about above after again all also am an and any are as at be because been before being
below between both but by can could did do does doing don down during each few for from
further had has have having he her here hers him his how i if in into is it its itself
just me more most my no nor not now of off on once only or other our out over own same
she should so some such than that the their them then there these they this those
through to too under until up very was we were what when where which while who whom why
will with would you your yours tell know say said please thanks thank want need get got
au aux avec ce ces cette dans de des du elle en est et être il ils je la le les leur lui
ma mais me mes moi mon ne nous on ou où par pas pour qu que qui sa se ses son sur ta te
tes toi ton tu un une vos votre vous c d j l m n s t y est-ce quoi quel quelle quels
quelles comment pourquoi quand combien dit dire faire fait peut peux veux
""".split())
MAX_TERMS = 24
_WORD = re.compile(r"\w+", re.UNICODE)


def query_terms(question: str) -> list[str]:
    """The words of a question worth searching for, in order, each once."""
    terms: list[str] = []
    for word in _WORD.findall(question.lower()):
        word = word.strip("_")
        if (len(word) >= 3 or word.isdigit()) and word not in STOPWORDS and word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


def _matched(terms: Sequence[str], passage: Passage) -> int:
    """How many distinct terms a passage contains (by a 5-letter stem: licence/licensing)."""
    text = f"{passage.section} {passage.body}".lower()
    return sum(1 for term in terms if term[:5] in text)


def space_of(platform: str, guild_ref: str | None) -> str | None:
    """Where a message's documents live; None: nowhere (a Discord DM)."""
    if guild_ref:
        return guild_ref
    return None if platform == "discord" else platform


class Knowledge:
    """Documents per space, and the passages that answer a question."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    async def add(self, space: str, filename: str, data: bytes, added_by: str,
                  locale: str = "en") -> str:
        """Read, chunk and index a document; what to tell the admin."""
        if kind_of(filename) is None:
            return t("knowledge_bad_kind", locale, name=filename)
        if len(data) > self.settings.knowledge_max_bytes:
            return t("knowledge_too_big", locale, name=filename, size=len(data),
                     limit=self.settings.knowledge_max_bytes)
        try:  # parsing a PDF takes a while: off the event loop
            document = await asyncio.to_thread(read_document, filename, data)
        except UnreadableDocument:
            return t("knowledge_unreadable", locale, name=filename)
        title = filename.rsplit("/", 1)[-1][:200]
        added = await self.store.add_document(space, title, document.kind, document.chars,
                                              added_by, document.passages,
                                              self.settings.knowledge_max_documents)
        if added is None:
            return t("knowledge_full", locale, limit=self.settings.knowledge_max_documents)
        return t("knowledge_added", locale, name=title, passages=added.passages)

    async def documents(self, space: str) -> list[KnowledgeDoc]:
        """The space's documents, numbered from 1 in this order."""
        return await self.store.documents(space)

    async def listing(self, space: str, locale: str = "en") -> str:
        """The space's documents as a numbered list, or that there are none."""
        docs = await self.documents(space)
        if not docs:
            return t("knowledge_none", locale)
        lines = [t("knowledge_item", locale, number=n, name=d.title, passages=d.passages,
                   chars=d.chars) for n, d in enumerate(docs, start=1)]
        return "\n".join([t("knowledge_title", locale), *lines])

    async def remove(self, space: str, number: int, locale: str = "en") -> str:
        """Remove the space's document number `number` (as listed)."""
        docs = await self.documents(space)
        if not 1 <= number <= len(docs):
            return t("knowledge_no_such", locale, number=number, count=len(docs))
        doc = docs[number - 1]
        await self.store.remove_document(space, doc.id)
        return t("knowledge_removed", locale, name=doc.title)

    async def find(self, space: str | None, question: str) -> list[Passage]:
        """The passages of `space` that answer `question`, best first (at most
        KNOWLEDGE_PASSAGES). A passage must share at least two of the question's words
        (one, for a one-word question): a single common word is no match."""
        if space is None:
            return []
        terms = query_terms(question)
        if not terms:
            return []
        wanted = self.settings.knowledge_passages
        found = await self.store.search_passages(space, terms, wanted * 3)
        needed = min(2, len(terms))
        return [p for p in found if _matched(terms, p) >= needed][:wanted]

    @staticmethod
    def source(passage: Passage) -> str:
        """How a passage is cited: the document, and its section when it has one."""
        return f"{passage.title}, {passage.section}" if passage.section else passage.title

    def sources(self, passages: Sequence[Passage], locale: str = "en") -> str:
        """The line an answer ends with: each source once, in the order used."""
        cited = list(dict.fromkeys(self.source(p) for p in passages))
        return t("knowledge_sources", locale, sources="; ".join(cited)) if cited else ""
