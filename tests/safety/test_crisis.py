"""Crisis detection and the crisis lines, in English and French."""

from __future__ import annotations

import pytest

from bot.config import load_settings
from bot.safety.crisis import DEFAULT_CRISIS_RESOURCES, crisis_lines, crisis_opening, detect_crisis


@pytest.mark.parametrize(("text", "language"), [
    ("I want to kill myself tonight.", "en"),
    ("i dont want to live anymore", "en"),
    ("I've been cutting myself again", "en"),
    ("Sometimes I think I'd be better off dead", "en"),
    ("Je veux me tuer ce soir.", "fr"),
    ("j’ai envie d’en finir", "fr"),
    ("J'ai des pensées suicidaires", "fr"),
    ("je n'ai plus envie de vivre", "fr"),
])
def test_crisis_is_detected_with_its_language(text: str, language: str) -> None:
    crisis = detect_crisis(text, "en" if language == "fr" else "fr")
    assert crisis is not None and crisis.language == language


@pytest.mark.parametrize("text", [
    "this joke killed me", "kill the process on port 8080", "Tu vas me tuer de rire !",
    "How do I cook pasta?", "The battery died", "je veux en finir avec ce rapport",
    "a documentary about the history of the suicide squad film",
])
def test_everyday_text_is_not_a_crisis(text: str) -> None:
    assert detect_crisis(text) is None


def test_the_surface_locale_wins_only_when_it_matched() -> None:
    both = "I am suicidal / je suis suicidaire"
    assert detect_crisis(both, "fr").language == "fr"  # type: ignore[union-attr]
    assert detect_crisis(both, "en").language == "en"  # type: ignore[union-attr]


def test_lines_by_country_then_language_then_directory() -> None:
    fr = crisis_lines(DEFAULT_CRISIS_RESOURCES, "fr")
    assert "3114" in fr[0] and any("0800 32 123" in line for line in fr)
    assert any("143" in line for line in fr) and "findahelpline" in fr[-1]
    en = crisis_lines(DEFAULT_CRISIS_RESOURCES, "en")
    assert "988" in en[0] and any("116 123" in line for line in en)
    assert not any("3114" in line for line in en)
    uk = crisis_lines(DEFAULT_CRISIS_RESOURCES, "en", country="GB")
    assert "Samaritans" in uk[0]
    canada_fr = crisis_lines(DEFAULT_CRISIS_RESOURCES, "fr", country="CA")
    assert "988" in canada_fr[0] and "3114" in canada_fr[1]


def test_the_opening_is_fixed_caring_and_in_the_users_language() -> None:
    crisis = detect_crisis("Je veux me tuer")
    assert crisis is not None
    opening = crisis_opening(DEFAULT_CRISIS_RESOURCES, crisis)
    assert opening.startswith("Je suis vraiment désolé") and "3114" in opening


def test_the_operator_sets_the_lines_as_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRISIS_RESOURCES",
                       '[{"country": "DE", "languages": ["de", "en"], "text": "0800 111 0 111"}]')
    settings = load_settings()
    assert crisis_lines(settings.crisis_resources, "en") == ["0800 111 0 111"]
