"""Privacy: what is stored, export of everything about a user, deletion, retention."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from bot.config import Settings
from bot.locales import t
from bot.store import Store


class Privacy:
    """The user's data rights, for every surface."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    async def command(self, user_ref: str, argument: str, locale: str = "en") -> str:
        """Typed `/privacy [export|forget [confirm]]` for text surfaces."""
        words = argument.lower().split()
        if words[:1] == ["export"]:
            return (await self.export(user_ref)).decode("utf-8")
        if words[:1] == ["forget"]:
            if words[1:2] != ["confirm"]:
                return t("forget_confirm", locale) + " /privacy forget confirm"
            counts = await self.forget(user_ref)
            return t("forget_done", locale, messages=counts.get("messages", 0))
        return self.explain(locale)

    def explain(self, locale: str = "en") -> str:
        """In plain words: what is stored, why, and for how long."""
        days = self.settings.retention_days
        keep = t("retention_days", locale, days=days) if days else t("retention_forever", locale)
        return t("privacy_explain", locale, retention=keep)

    async def export(self, user_ref: str) -> bytes:
        """Everything stored about the user, as indented JSON."""
        data = await self.store.export_user(user_ref)
        data = {"user_ref": user_ref, "exported_at": self.store.now().isoformat(), **data}
        return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")

    async def forget(self, user_ref: str) -> dict[str, int]:
        """Delete the user's data; accounting rows keep a random, unlinkable id."""
        return await self.store.forget_user(user_ref, f"forgotten:{secrets.token_hex(6)}")

    async def apply_retention(self) -> int:
        """Delete messages older than RETENTION_DAYS (0 keeps everything)."""
        days = self.settings.retention_days
        if not days:
            return 0
        return await self.store.purge_older_than(self.store.now() - timedelta(days=days))
