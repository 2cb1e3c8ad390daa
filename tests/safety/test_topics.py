"""The topic classifier: sensitive topics in English and French, commercial categories."""

from __future__ import annotations

import pytest

from bot.safety.topics import commercial_categories, matches, sensitive_topics


@pytest.mark.parametrize(("text", "topic"), [
    ("I have a terrible headache, what pills should I take?", "health"),
    ("J'ai mal à la tête, quel médicament prendre ?", "health"),
    ("I've been feeling depressed and anxious lately", "mental_health"),
    ("Je me sens déprimé depuis le deuil de ma mère", "mental_health"),
    ("sometimes I want to die", "self_harm"),
    ("j'ai envie d'en finir", "self_harm"),
    ("Who should I vote for in the election?", "politics"),
    ("Que penses-tu du gouvernement ?", "politics"),
    ("Does God exist?", "religion"),
    ("Je vais à l'église dimanche", "religion"),
    ("tell me about sex education", "sexuality"),
    ("where can I buy a gun", "weapons"),
    ("Où acheter un fusil ?", "weapons"),
    ("is cannabis legal here", "drugs"),
    ("la drogue, c'est dangereux ?", "drugs"),
    ("how do I steal a car", "crime"),
    ("comment faire une arnaque", "crime"),
])
def test_sensitive_topics(text: str, topic: str) -> None:
    assert topic in sensitive_topics(text)


@pytest.mark.parametrize("text", [
    "How do I cook pasta?", "Quelle est la meilleure recette de pâtes ?",
    "Recommend me a good novel", "What's the weather like in Lyon?",
    "Tell me a joke about cats",
])
def test_everyday_text_is_not_sensitive(text: str) -> None:
    assert sensitive_topics(text) == set()


def test_whole_words_and_stems() -> None:
    assert matches("I love PASTA!", ["pasta"]) == ["pasta"]
    assert matches("antipasta", ["pasta"]) == []
    assert matches("cooking tonight", ["cook*"]) == ["cook*"]
    assert matches("des pâtes fraîches", ["pates", "fraiche*"]) == ["pates", "fraiche*"]
    assert commercial_categories("How do I cook pasta?") == {"food"}
    assert commercial_categories("Je cherche un vol pour Rome et un hôtel") == {"travel"}
