"""Crisis detection and the crisis lines, in English and French."""

from __future__ import annotations

import pytest

from bot.config import load_settings
from bot.safety.crisis import DEFAULT_CRISIS_RESOURCES, crisis_lines, crisis_opening, detect_crisis
from bot.user_refs import phone_region


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


@pytest.mark.parametrize(("number", "country", "line"), [
    ("33612345678", "FR", "3114"), ("14155550100", "US", "988"), ("16135550100", "CA", "988"),
    ("4915112345678", "DE", "TelefonSeelsorge"), ("61412345678", "AU", "Lifeline"),
    ("447700900123", "GB", "Samaritans"), ("5511912345678", "BR", "188"),
])
def test_the_country_comes_from_the_phone_number(number: str, country: str, line: str) -> None:
    assert phone_region(number) == country
    assert line in crisis_lines(DEFAULT_CRISIS_RESOURCES, "en", phone_region(number))[0]


def test_a_country_without_a_line_gets_its_language_and_the_directory() -> None:
    assert phone_region("81312345678") == "JP" and phone_region("999") is None
    lines = crisis_lines(DEFAULT_CRISIS_RESOURCES, "en", "JP")
    assert "988" in lines[0] and "findahelpline" in lines[-1]


@pytest.mark.parametrize("text", [
    # Issue 24: missed before, each must now open with the crisis lines.
    "i want to end it all", "I wish I was dead", "kms", "i wanna kil myself",
    "I want to kill my self", "nobody would miss me if i was gone",
    "I have been saving pills to take them all tonight", "je veux en finir",
    "je veux plus vivre", "je vais me foutre en l air", "je pense au suicide",
    "I'm better off dead. I can't even cook pasta anymore",
    "je veux mourir, je n'arrive même plus à cuisiner des pâtes",
])
def test_the_issue_phrasings_are_crises(text: str) -> None:
    assert detect_crisis(text) is not None


@pytest.mark.parametrize("text", [
    "I want to die laughing at this meme", "how do I end my life insurance policy",
])
def test_the_issue_false_alarms_are_not(text: str) -> None:
    assert detect_crisis(text) is None
