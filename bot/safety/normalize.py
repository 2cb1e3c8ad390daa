"""Text as the safety patterns read it: one canonical spelling of what people type.

People write "i wanna kil my self", "jveux mouriiiir", "k m s", "su!c!de", "me foutre en
l air": the patterns are written once, against the canonical form, so each of these
spellings needs no pattern of its own. Steps, in order: case and accents; typographic
apostrophes; leetspeak inside words; a masked letter ("k*ll") restored from the few
words that are masked; letters spelled apart ("s u i c i d e"); letters stretched
("dieeee"); apostrophes and their absence ("j'ai", "jai", "dont", "im"); the common
SMS spellings ("jveux", "wanna", "tonite"). Pure and cheap (well under a millisecond).
"""

from __future__ import annotations

import re
import unicodedata

# Digits and signs used as letters, only where they sit between letters ("k1ll",
# "su!c!de", "w@nt"): "10 pills" and "2019" keep their digits.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
                       "@": "a", "$": "s", "!": "i", "€": "e"})
_LEET_CHAR = re.compile(r"(?<=[a-z])[013457@$!€](?=[a-z])")

# Words people mask with "*": a masked word is restored when one of these fits it.
_MASKED = ("kill", "killing", "suicide", "suicider", "suicidal", "tuer", "tue", "die",
           "dead", "mourir", "crever", "myself")
_MASK = re.compile(r"\b[a-z]*\*[a-z*]*\b|\b[a-z]+\*")

_SPELLED = re.compile(r"\b(?:[a-z] ){2,}[a-z]\b")
_STRETCHED = re.compile(r"([a-z])\1{2,}")

# Apostrophes left out or typed: every form becomes the spaced one ("j ai", "don t").
_APOSTROPHE = re.compile(r"['`´]")
_ENGLISH_CONTRACTION = re.compile(
    r"\b(don|can|won|isn|wasn|didn|doesn|couldn|shouldn|wouldn|ain|aren)t\b")
_SMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), repl) for pattern, repl in (
        # French: "jveux", "jvais", "jme", "jsuis", "jai", "jpense", "jserai".
        (r"\bj(?=(?:ve|vx|va|vo|me|te|se|su|sr|pe|pr|ser|sa|fe|do|ar|cr|ai|en)\w*)", "je "),
        (r"\bjvx\b", "je veux"), (r"\bje vx\b", "je veux"), (r"\bveu\b", "veux"),
        (r"\bje ve\b", "je veux"), (r"\bvais me\b", "vais me"), (r"\bplu\b", "plus"),
        (r"\bpr\b", "pour"), (r"\bpk\b", "pourquoi"), (r"\btt\b", "tout"),
        (r"\bavc\b", "avec"), (r"\bc\b(?! est| etait)", "c est"), (r"\blfie\b", "life"),
        (r"\bmoi meme\b", "moi"),
        (r"\blair\b", "l air"),
        # English: contractions without apostrophe, SMS words.
        (r"\bim\b", "i m"), (r"\bive\b", "i ve"), (r"\bid\b", "i d"),
        (r"\bwanna\b", "want to"), (r"\bgonna\b", "going to"), (r"\bgona\b", "going to"),
        (r"\bgunna\b", "going to"), (r"\bima\b", "i m going to"),
        (r"\bwnat\b", "want"), (r"\bwant too\b", "want to"), (r"\bu\b(?!\*)", "you"),
        (r"\bur\b", "your"), (r"\bb\b(?!\*)", "be"), (r"\br\b(?!\*)", "are"),
        (r"\btonite\b", "tonight"),
        (r"\bmy self\b", "myself"), (r"\bmy slef\b", "myself"), (r"\bmysle?f\b", "myself"),
        (r"\bmyslef\b", "myself"), (r"\bmysefl\b", "myself"), (r"\bmyselfs?\b", "myself"),
        (r"\bkil\b", "kill"), (r"\bkiling\b", "killing"), (r"\bthinkin\b", "thinking"),
        (r"\bbout\b", "about"), (r"\banymor\b", "anymore"), (r"\bany more\b", "anymore"),
        (r"\bded\b", "dead"), (r"\bcomit\b", "commit"), (r"\bal\b", "all"),
    ))


def fold(text: str) -> str:
    """Lower case without accents, typographic apostrophes made plain."""
    decomposed = unicodedata.normalize(
        "NFKD", text.casefold().replace("\u2019", "'").replace("\u02bc", "'"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _unmask(match: re.Match[str]) -> str:
    word = match.group(0)
    pattern = re.compile(re.escape(word).replace(r"\*", "[a-z]?") + "$")
    fits = [known for known in _MASKED if pattern.match(known)]
    return fits[0] if fits else word


def normalize(text: str) -> str:
    """The canonical form the safety patterns are written against (see the module)."""
    text = fold(text)
    text = _LEET_CHAR.sub(lambda m: m.group(0).translate(_LEET), text)
    text = _MASK.sub(_unmask, text)
    text = _SPELLED.sub(lambda m: m.group(0).replace(" ", ""), text)
    text = _STRETCHED.sub(r"\1", text)
    text = _APOSTROPHE.sub(" ", text).replace("-", " ")
    text = _ENGLISH_CONTRACTION.sub(r"\1 t", text)
    for pattern, replacement in _SMS:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())
