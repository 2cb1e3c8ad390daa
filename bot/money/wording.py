"""What an ad says about itself: the "why this ad" texts."""

from __future__ import annotations

from bot.locales import t


def explain(advertiser: str, matched: tuple[str, ...] | list[str], personalised: bool,
            tier: str, locale: str = "en", memory: str | None = None) -> str:
    """The "why this ad" text (naming the saved memory used, when one was)."""
    words = ", ".join(f'"{m.strip().rstrip("*")}"' for m in matched)
    basis = t("why_personal" if personalised else "why_message", locale)
    if memory is not None:
        basis = t("why_memory", locale, basis=basis, memory=memory)
    return t("why_ad", locale, advertiser=advertiser, words=words, basis=basis, tier=tier)


def explain_to_another(advertiser: str, locale: str = "en") -> str:
    """"Why this ad" for someone the ad was not shown to (a button in a shared channel):
    who paid, and nothing of the other user's words, memories or tier."""
    return t("why_ad_other", locale, advertiser=advertiser)
