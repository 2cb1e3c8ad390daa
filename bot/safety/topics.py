"""What a text is about, by keyword lists per language: sensitive topics (where no ad
may appear) and commercial categories (what a campaign may target).

This is deliberately a transparent classifier: a keyword list per category and
language, matched on whole words after lower-casing and removing accents, so that
"santé" and "sante", "Pasta" and "pasta" match. It errs on the side of caution for
sensitive topics: one hit is enough to keep ads away. The lists are data; extend them
here, and the tests in tests/test_topics.py say what must and must not match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from bot.safety.crisis_patterns import crisis_in
from bot.safety.moderation_patterns import moderation_in
from bot.safety.normalize import fold, normalize

# Sensitive topics (never next to an ad). Stems end with "*" to match word prefixes.
SENSITIVE: dict[str, dict[str, tuple[str, ...]]] = {
    "health": {
        "en": ("health", "doctor", "hospital", "disease", "illness", "sick", "symptom*",
               "cancer", "diabetes", "pain", "medicine", "medication", "pill*", "diagnos*",
               "pregnan*", "covid", "virus", "infection", "surgery", "fever", "allerg*",
               "headache", "migraine", "vaccin*", "nurse", "injury", "blood"),
        "fr": ("sante", "medecin", "docteur", "hopital", "maladie", "malade", "symptome*",
               "cancer", "diabete", "douleur", "medicament*", "pilule*", "diagnostic*",
               "enceinte", "grossesse", "covid", "virus", "infection", "chirurgie", "fievre",
               "allergi*", "migraine", "vaccin*", "infirmier*", "blessure", "sang"),
    },
    "mental_health": {
        "en": ("depress*", "anxiety", "anxious", "panic attack*", "therapy", "therapist",
               "mental health", "lonely", "loneliness", "grief", "trauma*", "ptsd",
               "eating disorder*", "anorexi*", "bulimi*", "burnout", "stress*"),
        "fr": ("depression", "deprime*", "anxiete", "anxieux", "crise d'angoisse", "angoisse*",
               "therapie", "therapeute", "sante mentale", "solitude", "deuil", "trauma*",
               "anorexi*", "boulimi*", "burn-out", "burnout", "stress*"),
    },
    "self_harm": {
        "en": ("suicid*", "self-harm", "self harm", "kill myself", "end my life",
               "cutting myself", "want to die", "overdose"),
        "fr": ("suicid*", "automutilation", "me tuer", "en finir", "me faire du mal",
               "envie de mourir", "overdose", "surdose"),
    },
    "politics": {
        "en": ("politic*", "election*", "vote", "voting", "president", "government",
               "parliament", "congress", "senate", "democrat*", "republican*", "left-wing",
               "right-wing", "immigration", "abortion", "war", "protest*", "party leader"),
        "fr": ("politique*", "election*", "voter", "vote", "president*", "gouvernement",
               "parlement", "assemblee nationale", "senat", "gauche", "droite",
               "immigration", "avortement", "guerre", "manifestation*"),
    },
    "religion": {
        "en": ("religio*", "god", "allah", "jesus", "church", "mosque", "synagogue", "temple",
               "bible", "quran", "koran", "torah", "pray*", "faith", "atheis*", "islam*",
               "christian*", "jewish", "judaism", "buddhis*", "hindu*"),
        "fr": ("religio*", "dieu", "allah", "jesus", "eglise", "mosquee", "synagogue",
               "temple", "bible", "coran", "torah", "priere*", "prier", "foi", "athe*",
               "islam*", "chretien*", "juif*", "judaisme", "bouddhis*", "hindou*"),
    },
    "sexuality": {
        "en": ("sex", "sexual*", "porn*", "nude*", "naked", "gay", "lesbian", "bisexual",
               "transgender", "lgbt*", "erotic*", "fetish*", "contracept*", "condom*"),
        "fr": ("sexe", "sexuel*", "porno*", "nu", "nue", "nus", "gay", "lesbienne*",
               "bisexuel*", "transgenre*", "lgbt*", "eroti*", "fetich*", "contracept*",
               "preservatif*"),
    },
    "weapons": {
        "en": ("gun*", "rifle*", "pistol*", "firearm*", "weapon*", "ammo", "ammunition",
               "bomb*", "explosive*", "stab", "stabbed", "stabbing"),
        "fr": ("arme", "armes", "fusil*", "pistolet*", "munition*", "bombe*", "explosif*",
               "poignarder"),
    },
    "drugs": {
        "en": ("drug*", "cocaine", "heroin", "cannabis", "marijuana", "weed", "meth",
               "lsd", "ecstasy", "opioid*", "fentanyl", "alcohol*", "addict*"),
        "fr": ("drogue*", "cocaine", "heroine", "cannabis", "marijuana", "beuh", "shit",
               "lsd", "ecstasy", "opioide*", "fentanyl", "alcool*", "addict*", "dependance"),
    },
    "crime": {
        "en": ("crime*", "criminal*", "murder*", "kill*", "steal*", "theft", "robbery",
               "fraud*", "scam*", "hack into", "police", "arrest*", "prison", "jail",
               "lawsuit", "court"),
        "fr": ("crime*", "criminel*", "meurtre*", "tuer", "voler", "vol", "cambriolage*",
               "fraude*", "arnaque*", "pirater", "police", "arrestation*", "prison",
               "proces", "tribunal"),
    },
}

# Commercial categories a campaign may target instead of (or besides) keywords.
CATEGORIES: dict[str, dict[str, tuple[str, ...]]] = {
    "food": {
        "en": ("food", "cook*", "recipe*", "pasta", "pizza", "restaurant*", "dinner",
               "lunch", "breakfast", "bake", "baking", "meal*", "kitchen"),
        "fr": ("cuisine*", "cuisiner", "recette*", "pates", "pizza", "restaurant*", "diner",
               "dejeuner", "petit-dejeuner", "patisserie", "repas", "plat*"),
    },
    "travel": {
        "en": ("travel*", "trip*", "flight*", "hotel*", "holiday*", "vacation*", "beach",
               "touris*", "airport", "luggage"),
        "fr": ("voyage*", "vol", "vols", "hotel*", "vacances", "plage", "touris*",
               "aeroport", "valise*"),
    },
    "tech": {
        "en": ("laptop*", "computer*", "phone*", "smartphone*", "software", "app", "apps",
               "code", "coding", "programming", "python", "gadget*"),
        "fr": ("ordinateur*", "portable*", "telephone*", "smartphone*", "logiciel*",
               "application*", "code", "coder", "programmation", "python", "gadget*"),
    },
    "books": {
        "en": ("book*", "novel*", "reading", "author*", "library"),
        "fr": ("livre*", "roman*", "lecture", "auteur*", "bibliotheque"),
    },
    "fitness": {
        "en": ("gym", "workout*", "running", "fitness", "yoga", "exercise*"),
        "fr": ("salle de sport", "entrainement*", "course a pied", "fitness", "yoga",
               "exercice*"),
    },
}


def _word(keyword: str) -> str:
    """A keyword as a pattern for folded text, without the check for a word's start."""
    word = re.escape(fold(keyword.rstrip("*"))).replace(r"\ ", r"\s+")
    return word if keyword.endswith("*") else word + r"(?!\w)"  # a stem may go on


@lru_cache(maxsize=4096)
def _pattern(keyword: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + _word(keyword))


def matches(text: str, keywords: Iterable[str]) -> list[str]:
    """The keywords (as written) found in `text`, in order."""
    folded = fold(text)
    return [k for k in keywords if k.strip() and _pattern(k).search(folded)]


def mentions_any(folded: str, keywords: tuple[str, ...]) -> bool:
    """True when `folded` (see `fold`) holds any of the keywords: one scan of the text,
    where `matches` makes one per keyword to say which."""
    pattern = _any_of(keywords)
    return pattern is not None and pattern.search(folded) is not None


@lru_cache(maxsize=256)
def _any_of(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    # One alternation per list: a list of 40 words is one scan of the text, not 40.
    # The word-start check comes once, before the alternatives: most positions fail it.
    parts = [_word(k) for k in keywords if k.strip()]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + ")") if parts else None


def _categories(table: dict[str, dict[str, tuple[str, ...]]], text: str) -> set[str]:
    folded = fold(text)  # once, not once per list
    return {name for name, by_language in table.items()
            if any(mentions_any(folded, words) for words in by_language.values())}


def sensitive_topics(text: str) -> set[str]:
    """The sensitive topics a text touches (any language we have lists for).

    "self_harm" also covers every message the crisis detector answers as a crisis: the
    ads' exclusion asks the crisis patterns themselves, so it contains them all by
    construction, not by two lists kept in step by hand."""
    found = _categories(SENSITIVE, text)
    if crisis_in(normalize(text)):
        found.add("self_harm")
    return found


def moderation_categories(text: str) -> set[str]:
    """The built-in moderation categories a text falls in (`moderation_patterns`)."""
    return moderation_in(normalize(text))


def commercial_categories(text: str) -> set[str]:
    """The commercial categories a text is about."""
    return _categories(CATEGORIES, text)
