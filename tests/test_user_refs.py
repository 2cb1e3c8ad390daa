"""User references from operator input: one normal form, the one the surfaces store."""

from __future__ import annotations

import re

import pytest

from bot.user_refs import normalize_user_ref


@pytest.mark.parametrize(("typed", "stored"), [
    ("whatsapp:+33612345678", "whatsapp:33612345678"),
    ("whatsapp:33612345678", "whatsapp:33612345678"),
    ("WhatsApp: +33 6 12 34 56 78", "whatsapp:33612345678"),
    ("whatsapp:+1 (415) 555-0100", "whatsapp:14155550100"),
    ("whatsapp:+44.20.7946.0958", "whatsapp:442079460958"),
    ("discord:123456789012345678", "discord:123456789012345678"),
    (" Discord:42 ", "discord:42"),
    ("local:ada", "local:ada"),
    ("local: Ada Lovelace ", "local:Ada Lovelace"),
])
def test_what_an_operator_types_becomes_what_is_stored(typed: str, stored: str) -> None:
    assert normalize_user_ref(typed) == stored


@pytest.mark.parametrize(("typed", "why"), [
    ("ada", "local:<name>"),
    ("telegram:1", "local:<name>"),
    ("whatsapp:", "local:<name>"),
    ("discord:abc", "a Discord id is a number"),
    ("discord:١٢٣", "a Discord id is a number"),  # digits, but not ASCII ones
    ("whatsapp:0612345678", "international form"),
    ("whatsapp:+0033612345678", "international form"),
    ("whatsapp:+33 6 12 ab", "not a phone number"),
    ("whatsapp:+123", "6 to 15 digits"),
    ("whatsapp:+1234567890123456", "6 to 15 digits"),
])
def test_a_reference_nobody_could_have_is_refused(typed: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(typed))) as caught:
        normalize_user_ref(typed)
    assert why in str(caught.value)
