"""User references (`platform:id`): the one place that turns what an operator types into
the form the surfaces store.

Each surface names its users by what its platform sends: Discord by the numeric user id,
WhatsApp by the number in international form *without* the `+` (Meta's `wa_id`, e.g.
`33612345678`), the terminal by the name given to `causette chat --as`. An operator
types `whatsapp:+33 6 12 34 56 78`, as people write numbers; a grant stored under that
text would never reach the user, so every reference from operator input goes through
`normalize_user_ref`.
"""

from __future__ import annotations

import re

import phonenumbers

PLATFORMS = ("discord", "whatsapp", "local")
USAGE = "use discord:<id>, whatsapp:<phone> or local:<name>"

# What people put between the digits of a phone number.
_PHONE_SEPARATORS = re.compile(r"[\s.\-()/]")


def normalize_whatsapp_number(number: str) -> str:
    """A phone number as WhatsApp ids are stored: digits only, in international form.

    `+33 6 12-34-56-78` -> `33612345678`. A number starting with 0 is a national one
    (or has an international prefix such as 00): no WhatsApp id starts with 0, so it
    is refused rather than stored where nobody would ever match it."""
    digits = _PHONE_SEPARATORS.sub("", number.strip()).removeprefix("+")
    if not digits.isascii() or not digits.isdigit():
        raise ValueError("not a phone number")
    if digits.startswith("0"):
        raise ValueError("give the number in international form, with its country code, "
                         "e.g. +33612345678")
    if not 6 <= len(digits) <= 15:  # E.164 numbers have at most 15 digits
        raise ValueError("not a phone number in international form (6 to 15 digits)")
    return digits


def normalize_user_ref(value: str) -> str:
    """`platform:id` as stored, from what an operator typed; ValueError says what is wrong.

    The platform is matched case-insensitively; a Discord id must be a number; a
    WhatsApp number loses its `+` and separators; a local name loses surrounding spaces.
    """
    platform, colon, ident = value.strip().partition(":")
    platform, ident = platform.strip().lower(), ident.strip()
    if not colon or platform not in PLATFORMS or not ident:
        raise ValueError(f"{value!r}: {USAGE}")
    if platform == "discord":
        if not (ident.isascii() and ident.isdigit()):
            raise ValueError(f"{value!r}: a Discord id is a number")
        return f"discord:{int(ident)}"
    if platform == "whatsapp":
        try:
            return f"whatsapp:{normalize_whatsapp_number(ident)}"
        except ValueError as exc:
            raise ValueError(f"{value!r}: {exc}") from None
    return f"local:{ident}"


def phone_region(number: str) -> str | None:
    """The country of an international phone number (digits, no +), by the `phonenumbers`
    library's numbering plans: every country, not a hand-kept list of calling codes."""
    try:
        parsed = phonenumbers.parse("+" + number.lstrip("+"))
    except phonenumbers.NumberParseException:
        return None
    # A number outside the known plans (new ranges) still has its calling code's country.
    region = (phonenumbers.region_code_for_number(parsed)
              or phonenumbers.region_code_for_country_code(parsed.country_code))
    # "001" is a non-geographic number; "ZZ" an unknown one.
    return region if region and region.isalpha() and region != "ZZ" else None
