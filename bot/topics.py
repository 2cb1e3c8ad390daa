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
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

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


def fold(text: str) -> str:
    """Lower case without accents: what the keyword lists are written in."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=4096)
def _pattern(keyword: str) -> re.Pattern[str]:
    stem = keyword.endswith("*")
    word = re.escape(fold(keyword.rstrip("*"))).replace(r"\ ", r"\s+")
    end = "" if stem else r"(?!\w)"
    return re.compile(r"(?<!\w)" + word + end)


def matches(text: str, keywords: Iterable[str]) -> list[str]:
    """The keywords (as written) found in `text`, in order."""
    folded = fold(text)
    return [k for k in keywords if k.strip() and _pattern(k).search(folded)]


def _categories(table: dict[str, dict[str, tuple[str, ...]]], text: str) -> set[str]:
    return {name for name, by_language in table.items()
            if any(matches(text, words) for words in by_language.values())}


def sensitive_topics(text: str) -> set[str]:
    """The sensitive topics a text touches (any language we have lists for)."""
    return _categories(SENSITIVE, text)


def commercial_categories(text: str) -> set[str]:
    """The commercial categories a text is about."""
    return _categories(CATEGORIES, text)
