"""The store: Causette's only SQL, on SQLite (default) or PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

from bot.store.base import StoreError, iso, utc_now
from bot.store.core import (
    AuditEntry,
    Campaign,
    CampaignDay,
    GuildRule,
    MessageStatus,
    Role,
    Store,
    StoredMessage,
    TierGrant,
)
from bot.store.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = [
    "MIGRATIONS", "SCHEMA_VERSION", "AuditEntry", "Campaign", "CampaignDay", "GuildRule",
    "MessageStatus", "Role", "Store", "StoreError", "StoredMessage", "TierGrant", "iso",
    "utc_now",
]
