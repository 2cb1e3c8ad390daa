"""The knowledge store on SQLite (FTS5) and PostgreSQL (tsvector): documents per
space, full-text search within one space only, replace, remove, the limit."""

from __future__ import annotations

from bot.knowledge import query_terms
from tests.support.clock import StoreOpener

RULES = [("1. Opening hours", "The club house opens at nine in the morning and closes "
          "at ten at night, every day except Mondays."),
         ("2. Guests", "Members may bring two guests per visit; guests sign the visitors "
          "book at the entrance."),
         ("3. Parking", "Bicycles are parked in the courtyard, never in the corridors.")]


async def test_search_finds_the_passage_within_its_space_only(open_store: StoreOpener) -> None:
    store = await open_store()
    added = await store.add_document("discord:1", "rules.md", "markdown", 300, "discord:9",
                                     RULES, limit=5)
    assert added is not None and added.passages == 3
    await store.add_document("discord:2", "secret.md", "markdown", 50, "discord:8",
                             [("Vault", "The guests code for the vault is 4321.")], limit=5)
    found = await store.search_passages("discord:1", query_terms(
        "How many guests can a member bring?"), 3)
    assert found[0].section == "2. Guests" and found[0].title == "rules.md"
    # Another server's passage matches the words, yet is never returned here.
    assert all("vault" not in p.body for p in found)
    assert [p.body for p in await store.search_passages(
        "discord:2", query_terms("vault code"), 3)] == ["The guests code for the vault is 4321."]
    assert await store.search_passages("discord:3", query_terms("guests"), 3) == []
    # Stemming: "parked" is found from "parking".
    parking = await store.search_passages("discord:1", query_terms("bicycle parking"), 1)
    assert parking[0].section == "3. Parking"


async def test_replace_remove_and_limit(open_store: StoreOpener) -> None:
    store = await open_store()
    await store.add_document("local", "a.txt", "text", 10, "local:ada", RULES[:1], limit=2)
    await store.add_document("local", "b.txt", "text", 10, "local:ada", RULES[1:2], limit=2)
    assert await store.add_document("local", "c.txt", "text", 10, "local:ada", RULES[2:],
                                    limit=2) is None
    # The same title replaces the document (and its passages) instead of counting twice.
    again = await store.add_document("local", "a.txt", "text", 10, "local:ada", RULES[2:],
                                     limit=2)
    assert again is not None
    docs = await store.documents("local")
    assert [(d.title, d.passages) for d in docs] == [("b.txt", 1), ("a.txt", 1)]
    assert await store.search_passages("local", ["opens", "morning"], 3) == []
    assert not await store.remove_document("discord:1", docs[0].id)  # not its space
    assert await store.remove_document("local", docs[0].id)
    assert await store.search_passages("local", ["guests"], 3) == []
    assert await store.knowledge_counts() == {"knowledge_documents": 1,
                                              "knowledge_passages": 1}
