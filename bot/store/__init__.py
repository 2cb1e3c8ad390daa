"""The store: Causette's only SQL, on SQLite (default) or PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

from bot.store.ads import Campaign, CampaignDay
from bot.store.advertisers import Advertiser
from bot.store.base import StoreError, iso, utc_now
from bot.store.conversations import MessageStatus, Role, StoredMessage
from bot.store.core import Store
from bot.store.guilds import GuildRule
from bot.store.knowledge import KnowledgeDoc, Passage
from bot.store.memories import Memory, MemorySettings, MemorySource
from bot.store.reminders import Reminder
from bot.store.schema import MIGRATIONS, SCHEMA_VERSION
from bot.store.tiers import AuditEntry, TierGrant
from bot.store.web import DayFigures, DaySpeed, WebRole, WebSession

__all__ = [
    "MIGRATIONS", "SCHEMA_VERSION", "Advertiser", "AuditEntry", "Campaign", "CampaignDay",
    "DayFigures", "DaySpeed", "GuildRule", "KnowledgeDoc",
    "Memory", "MemorySettings", "MemorySource", "MessageStatus", "Passage", "Reminder", "Role",
    "Store",
    "StoreError", "StoredMessage", "TierGrant", "WebRole", "WebSession", "iso", "utc_now",
]
