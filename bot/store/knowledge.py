"""A server's own documents (issue 29): documents, their passages, and full-text search.

Each document belongs to one space: a Discord server ("discord:<guild>"), or a
surface's own shelf ("local" for the terminal, "whatsapp"). Every statement names the
space, so one server's passages can never be read from another. The search is the
database's own: SQLite FTS5 (an external-content index kept by triggers) or
PostgreSQL's `tsvector` (a generated column with a GIN index). No embedding model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.store.common import StoreBase, storable


@dataclass(frozen=True)
class KnowledgeDoc:
    """One document added to a space."""

    id: int
    title: str
    kind: str  # "text", "markdown", "pdf"
    chars: int
    passages: int
    added_by: str
    added_at: str


@dataclass(frozen=True)
class Passage:
    """One indexed passage, as a search finds it."""

    id: int
    doc_id: int
    title: str
    section: str
    body: str


class KnowledgeMixin(StoreBase):
    """Documents and passages per space; search within one space only."""

    async def add_document(self, space: str, title: str, kind: str, chars: int,
                           added_by: str, passages: Sequence[tuple[str, str]],
                           limit: int) -> KnowledgeDoc | None:
        """Store a document and its (section, body) passages in one transaction,
        replacing a document of the same title in the space. None when the space
        already holds `limit` other documents."""
        async with self._transaction() as db:
            await db.lock(f"knowledge:{space}")
            old = await db.fetchrow(
                "SELECT id FROM knowledge_docs WHERE space = ? AND title = ?", (space, title))
            if old is not None:
                await db.execute("DELETE FROM knowledge_chunks WHERE doc_id = ?", (old[0],))
                await db.execute("DELETE FROM knowledge_docs WHERE id = ?", (old[0],))
            else:
                row = await db.fetchrow(
                    "SELECT COUNT(*) FROM knowledge_docs WHERE space = ?", (space,))
                if row is not None and int(row[0]) >= limit:
                    return None
            now = self._now()
            doc_id = await self._insert(
                db, "INSERT INTO knowledge_docs (space, title, kind, chars, added_by, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (space, storable(title), kind, chars, added_by, now))
            for position, (section, body) in enumerate(passages):
                await db.execute(
                    "INSERT INTO knowledge_chunks (doc_id, space, position, section, body) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (doc_id, space, position, storable(section), storable(body)))
        return KnowledgeDoc(doc_id, title, kind, chars, len(passages), added_by, now)

    async def documents(self, space: str) -> list[KnowledgeDoc]:
        """The space's documents, oldest first (the numbering admins see)."""
        rows = await self._db.rows(
            "SELECT d.id, d.title, d.kind, d.chars, d.added_by, d.added_at, "
            "(SELECT COUNT(*) FROM knowledge_chunks c WHERE c.doc_id = d.id) AS passages "
            "FROM knowledge_docs d WHERE d.space = ? ORDER BY d.id", (space,))
        return [KnowledgeDoc(int(r["id"]), str(r["title"]), str(r["kind"]), int(r["chars"]),
                             int(r["passages"]), str(r["added_by"]), str(r["added_at"]))
                for r in rows]

    async def remove_document(self, space: str, doc_id: int) -> bool:
        """Delete one of the space's documents and its passages (never another space's)."""
        async with self._transaction() as db:
            await db.execute("DELETE FROM knowledge_chunks WHERE doc_id = ? AND space = ?",
                             (doc_id, space))
            return await db.execute("DELETE FROM knowledge_docs WHERE id = ? AND space = ?",
                                    (doc_id, space)) > 0

    async def search_passages(self, space: str, terms: Sequence[str],
                              limit: int) -> list[Passage]:
        """The space's passages that best match any of `terms` (words of letters and
        digits only, which the caller guarantees), best first."""
        if not terms or limit <= 0:
            return []
        if self.driver.dialect == "sqlite":
            # Section titles weigh more than body text: a question often names them.
            rows = await self._db.rows(
                "SELECT c.id, c.doc_id, d.title, c.section, c.body FROM knowledge_fts f "
                "JOIN knowledge_chunks c ON c.id = f.rowid "
                "JOIN knowledge_docs d ON d.id = c.doc_id "
                "WHERE knowledge_fts MATCH ? AND c.space = ? "
                "ORDER BY bm25(knowledge_fts, 2.0, 1.0), c.id LIMIT ?",
                (" OR ".join(f'"{term}"' for term in terms), space, limit))
        else:
            rows = await self._db.rows(
                "SELECT c.id, c.doc_id, d.title, c.section, c.body "
                "FROM knowledge_chunks c JOIN knowledge_docs d ON d.id = c.doc_id, "
                "websearch_to_tsquery('english', ?) q "
                "WHERE c.space = ? AND c.tsv @@ q "
                "ORDER BY ts_rank(c.tsv, q, 1) DESC, c.id LIMIT ?",
                (" or ".join(terms), space, limit))
        return [Passage(int(r["id"]), int(r["doc_id"]), str(r["title"]), str(r["section"]),
                        str(r["body"])) for r in rows]

    async def knowledge_counts(self) -> dict[str, int]:
        """Documents and passages kept, over every space: counts, never contents."""
        row = await self._db.fetchrow(
            "SELECT (SELECT COUNT(*) FROM knowledge_docs), (SELECT COUNT(*) FROM "
            "knowledge_chunks)")
        return {"knowledge_documents": int(row[0] or 0) if row else 0,
                "knowledge_passages": int(row[1] or 0) if row else 0}
