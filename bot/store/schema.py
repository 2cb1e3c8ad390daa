"""The schema: versioned migrations, written once and adapted to each dialect.

The statements are written in SQLite's dialect; `for_dialect` adapts the few words that
differ for PostgreSQL (64-bit integers, identity keys), so both databases always have
the same tables, constraints and indexes. Timestamps are ISO 8601 text in both, so the
store's queries and their ordering are the same everywhere.
"""

from __future__ import annotations

import re

from bot.store.base import Dialect

# Each entry migrates the schema from version i to i + 1; never edit a released one.
# A statement is written once for both dialects, or (rarely) as {dialect: statement},
# a dialect without an entry skipping it.
Statement = str | dict[str, str]
MIGRATIONS: tuple[tuple[Statement, ...], ...] = (
    (
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            external_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (platform, external_id))""",
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            created_at TEXT NOT NULL,
            closed_at TEXT)""",
        # At most one open conversation per user and key: /reset closes it.
        """CREATE UNIQUE INDEX conversations_open
            ON conversations (user_id, key) WHERE closed_at IS NULL""",
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('complete', 'streaming', 'cancelled', 'failed', 'interrupted')),
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            stop_reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX messages_by_conversation ON messages (conversation_id, id)",
    ),
    (
        # Where the bot answers in a Discord server: allow/block lists by kind.
        """CREATE TABLE guild_rules (
            guild_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('channel', 'role', 'user')),
            target_id TEXT NOT NULL,
            mode TEXT NOT NULL CHECK (mode IN ('allow', 'block')),
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL,
            PRIMARY KEY (guild_id, kind, target_id))""",
        """CREATE TABLE channel_prompts (
            guild_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            prompt TEXT NOT NULL,
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL,
            PRIMARY KEY (guild_id, channel_id))""",
    ),
    (
        # Tiers. Subjects: a user ref (discord:123), a role (discord:<guild>:<role>) or a
        # guild (discord:<guild>). Grants are revoked, never deleted: they are history.
        """CREATE TABLE tier_grants (
            id INTEGER PRIMARY KEY,
            subject_kind TEXT NOT NULL CHECK (subject_kind IN ('user', 'role', 'guild')),
            subject TEXT NOT NULL,
            tier TEXT NOT NULL,
            granted_by TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            expires_at TEXT,
            revoked_at TEXT,
            revoked_by TEXT)""",
        """CREATE INDEX tier_grants_active ON tier_grants (subject_kind, subject)
            WHERE revoked_at IS NULL""",
        """CREATE TABLE entitlements (
            id TEXT PRIMARY KEY,
            user_ref TEXT NOT NULL,
            sku_id TEXT NOT NULL,
            starts_at TEXT,
            ends_at TEXT,
            deleted INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX entitlements_by_user ON entitlements (user_ref)",
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            detail TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL)""",
        """CREATE TABLE usage_daily (
            user_ref TEXT NOT NULL,
            day TEXT NOT NULL,
            messages INTEGER NOT NULL,
            PRIMARY KEY (user_ref, day))""",
        """CREATE TABLE rate_windows (
            user_ref TEXT PRIMARY KEY,
            window_start TEXT NOT NULL,
            count INTEGER NOT NULL)""",
        """CREATE TABLE personas (
            user_ref TEXT PRIMARY KEY,
            prompt TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
    ),
    (
        # Sponsored replies. Money is integer micro-units (1e-6 of the currency) so sums
        # are exact; the CHECK makes overspending impossible even for a buggy caller.
        """CREATE TABLE campaigns (
            id INTEGER PRIMARY KEY,
            advertiser TEXT NOT NULL,
            headline TEXT NOT NULL,
            body TEXT NOT NULL,
            url TEXT NOT NULL,
            keywords TEXT NOT NULL,
            categories TEXT NOT NULL,
            languages TEXT NOT NULL,
            cpm_micros INTEGER NOT NULL CHECK (cpm_micros > 0),
            budget_micros INTEGER NOT NULL CHECK (budget_micros > 0),
            daily_budget_micros INTEGER CHECK (daily_budget_micros > 0),
            spent_micros INTEGER NOT NULL DEFAULT 0,
            start_at TEXT NOT NULL,
            end_at TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('draft', 'active', 'paused', 'ended', 'exhausted')),
            guild_id TEXT,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            CHECK (spent_micros >= 0 AND spent_micros <= budget_micros))""",
        # Users are named by internal id only; deleting a user removes their ad history.
        """CREATE TABLE impressions (
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
            user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
            platform TEXT NOT NULL,
            matched TEXT NOT NULL,
            delivery_ref TEXT,
            cost_micros INTEGER NOT NULL,
            day TEXT NOT NULL,
            at TEXT NOT NULL)""",
        "CREATE INDEX impressions_by_campaign ON impressions (campaign_id, day)",
        "CREATE INDEX impressions_by_user ON impressions (user_id, at)",
        "CREATE INDEX impressions_by_delivery ON impressions (delivery_ref)",
        """CREATE TABLE clicks (
            id INTEGER PRIMARY KEY,
            impression_id INTEGER NOT NULL UNIQUE REFERENCES impressions(id) ON DELETE CASCADE,
            at TEXT NOT NULL)""",
        """CREATE TABLE guild_ads (
            guild_id TEXT PRIMARY KEY,
            enabled INTEGER NOT NULL,
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL)""",
        """CREATE TABLE ad_preferences (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            personalize INTEGER NOT NULL,
            set_at TEXT NOT NULL)""",
    ),
    (
        # Inbound ids already handled (WhatsApp retries deliveries): never answer twice.
        """CREATE TABLE processed_inbound (
            platform TEXT NOT NULL,
            message_id TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (platform, message_id))""",
    ),
    (
        # Inbound messages kept durably until answered (issue 14): a webhook stores each
        # message as 'pending' in the transaction that dedups its id, before answering
        # 200, and marks it 'answered' once the platform accepted the reply. Rows of
        # version 5 were answered already, hence the default. `owner` is the process
        # answering it, holding it until `lease_until` (renewed while it works), so a
        # row whose process died is picked up by another, and only one. `reply` keeps
        # the composed answer, so a retry resends it instead of generating it again;
        # `sent_parts` says how many of its parts the platform already accepted. Who
        # sent it and what they wrote are cleared once answered.
        "ALTER TABLE processed_inbound ADD COLUMN status TEXT NOT NULL DEFAULT 'answered' "
        "CHECK (status IN ('pending', 'answered', 'failed'))",
        "ALTER TABLE processed_inbound ADD COLUMN sender TEXT",
        "ALTER TABLE processed_inbound ADD COLUMN channel TEXT",
        "ALTER TABLE processed_inbound ADD COLUMN kind TEXT",
        "ALTER TABLE processed_inbound ADD COLUMN body TEXT",
        "ALTER TABLE processed_inbound ADD COLUMN reply TEXT",
        "ALTER TABLE processed_inbound ADD COLUMN reply_message_id INTEGER "
        "REFERENCES messages(id) ON DELETE SET NULL",
        "ALTER TABLE processed_inbound ADD COLUMN sent_parts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE processed_inbound ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE processed_inbound ADD COLUMN owner TEXT",
        "ALTER TABLE processed_inbound ADD COLUMN lease_until TEXT",
        "ALTER TABLE processed_inbound ADD COLUMN error TEXT",
        "ALTER TABLE processed_inbound ADD COLUMN updated_at TEXT",
        # What pick-ups and `causette stats` look for: the few rows not answered yet.
        """CREATE INDEX processed_inbound_open ON processed_inbound (status, received_at)
            WHERE status <> 'answered'""",
    ),
    (
        # Moderation (issue 18): a user's turn kept from the model is 'refused', an
        # answer withheld is 'moderated', with the categories in `moderation`. SQLite
        # cannot change a CHECK in place, so messages is rebuilt there: the rows are
        # copied, and the answered deliveries' links to their reply (which dropping the
        # old table sets to NULL) are put back.
        {
            "sqlite": """CREATE TABLE messages_v7 (
                id INTEGER PRIMARY KEY,
                conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
                content TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('complete', 'streaming', 'cancelled',
                    'failed', 'interrupted', 'refused', 'moderated')),
                prompt_tokens INTEGER,
                completion_tokens INTEGER,
                stop_reason TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                moderation TEXT)""",
            "postgresql": "ALTER TABLE messages DROP CONSTRAINT messages_status_check",
        },
        {
            "sqlite": """INSERT INTO messages_v7 (id, conversation_id, role, content, status,
                prompt_tokens, completion_tokens, stop_reason, created_at, updated_at)
                SELECT id, conversation_id, role, content, status, prompt_tokens,
                completion_tokens, stop_reason, created_at, updated_at FROM messages""",
            "postgresql": """ALTER TABLE messages ADD CONSTRAINT messages_status_check
                CHECK (status IN ('complete', 'streaming', 'cancelled', 'failed',
                'interrupted', 'refused', 'moderated'))""",
        },
        {
            "sqlite": """CREATE TEMP TABLE inbound_replies AS SELECT platform, message_id,
                reply_message_id FROM processed_inbound WHERE reply_message_id IS NOT NULL""",
            "postgresql": "ALTER TABLE messages ADD COLUMN moderation TEXT",
        },
        {"sqlite": "DROP TABLE messages"},
        {"sqlite": "ALTER TABLE messages_v7 RENAME TO messages"},
        {"sqlite": "CREATE INDEX messages_by_conversation ON messages (conversation_id, id)"},
        {
            "sqlite": """UPDATE processed_inbound SET reply_message_id = (
                SELECT r.reply_message_id FROM inbound_replies r
                WHERE r.platform = processed_inbound.platform
                AND r.message_id = processed_inbound.message_id)
                WHERE EXISTS (SELECT 1 FROM inbound_replies r
                WHERE r.platform = processed_inbound.platform
                AND r.message_id = processed_inbound.message_id)""",
        },
        {"sqlite": "DROP TABLE inbound_replies"},
        # What a server's admins chose to refuse, on top of the operator's floor.
        """CREATE TABLE guild_moderation (
            guild_id TEXT PRIMARY KEY,
            categories TEXT NOT NULL,
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL)""",
    ),
    (
        # Memory (issue 16): short facts a user asked Causette to keep, in their words,
        # with when and where (the conversation key) each was saved and how ('explicit'
        # or 'auto', suggested by the model). Deleted with the user.
        """CREATE TABLE memories (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            fact TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('explicit', 'auto')),
            saved_in TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
        "CREATE INDEX memories_by_user ON memories (user_id, id)",
        # The user's switches: memory off (no saving, no use) and temporary chat (nothing
        # of the conversation stored). A missing row means memory on, temporary off.
        """CREATE TABLE memory_settings (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            enabled INTEGER NOT NULL,
            temporary INTEGER NOT NULL,
            set_at TEXT NOT NULL)""",
    ),
    (
        # The web console (issue 17): advertisers log in with a token stored only as its
        # SHA-256; campaigns belong to one (linked by name, so TOML files keep working).
        """CREATE TABLE advertisers (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            token_hash TEXT NOT NULL UNIQUE,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
        "ALTER TABLE campaigns ADD COLUMN advertiser_id INTEGER REFERENCES advertisers(id)",
        "CREATE INDEX campaigns_by_advertiser ON campaigns (advertiser_id)",
        # Console sessions: the cookie carries a random id, the row only its hash, so a
        # copy of the database opens no session; revoked_at ends one before it expires.
        """CREATE TABLE web_sessions (
            id_hash TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('operator', 'advertiser')),
            advertiser_id INTEGER REFERENCES advertisers(id) ON DELETE CASCADE,
            csrf TEXT NOT NULL,
            address TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            revoked_at TEXT)""",
        # Failed logins per address (rate limit), shared by every console process.
        """CREATE TABLE web_login_failures (
            id INTEGER PRIMARY KEY,
            address TEXT NOT NULL,
            at TEXT NOT NULL)""",
        "CREATE INDEX web_login_failures_by_address ON web_login_failures (address, at)",
    ),
    (
        # How long the user waited (issue 17): milliseconds from the answer's submission
        # to its first token, and the requests waiting in the engine's queue when it was
        # submitted. The console runs apart from the model, so it reads them from here.
        "ALTER TABLE messages ADD COLUMN first_token_ms INTEGER",
        "ALTER TABLE messages ADD COLUMN queue_depth INTEGER",
    ),
    (
        # "Why this ad?" after a restart (issue 26): whether the match could use the
        # user's conversation and saved memories (their consent), and their tier then.
        # Never a memory's text: a deleted or forgotten memory must not live on here.
        "ALTER TABLE impressions ADD COLUMN personalised INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE impressions ADD COLUMN tier TEXT",
    ),
    (
        # Issue 26: what answering an inbound message did before its process died, so
        # the process that takes the row over does not do it again: the user's stored
        # turn (`user_message_id`; none in a temporary chat) and whether the message was
        # counted against the quota (`admitted`).
        "ALTER TABLE processed_inbound ADD COLUMN user_message_id INTEGER "
        "REFERENCES messages(id) ON DELETE SET NULL",
        "ALTER TABLE processed_inbound ADD COLUMN admitted INTEGER NOT NULL DEFAULT 0",
    ),
    (
        # A server's own documents (issue 29), per space: "discord:<guild>", "local"
        # (the terminal) or "whatsapp". Passages are indexed by the database's own full
        # text search: FTS5 (kept by triggers) on SQLite, a tsvector column on PostgreSQL.
        """CREATE TABLE knowledge_docs (
            id INTEGER PRIMARY KEY,
            space TEXT NOT NULL,
            title TEXT NOT NULL,
            kind TEXT NOT NULL,
            chars INTEGER NOT NULL,
            added_by TEXT NOT NULL,
            added_at TEXT NOT NULL,
            UNIQUE (space, title))""",
        """CREATE TABLE knowledge_chunks (
            id INTEGER PRIMARY KEY,
            doc_id INTEGER NOT NULL REFERENCES knowledge_docs(id) ON DELETE CASCADE,
            space TEXT NOT NULL,
            position INTEGER NOT NULL,
            section TEXT NOT NULL,
            body TEXT NOT NULL)""",
        "CREATE INDEX knowledge_chunks_by_doc ON knowledge_chunks (doc_id, position)",
        {
            "sqlite": "CREATE VIRTUAL TABLE knowledge_fts USING fts5(section, body, "
                      "content='knowledge_chunks', content_rowid='id', "
                      "tokenize='porter unicode61 remove_diacritics 2')",
            "postgresql": "ALTER TABLE knowledge_chunks ADD COLUMN tsv tsvector GENERATED "
                          "ALWAYS AS (to_tsvector('english', section || ' ' || body)) STORED",
        },
        {
            "sqlite": """CREATE TRIGGER knowledge_chunks_indexed AFTER INSERT ON knowledge_chunks
                BEGIN INSERT INTO knowledge_fts (rowid, section, body)
                VALUES (new.id, new.section, new.body); END""",
            "postgresql": "CREATE INDEX knowledge_chunks_tsv ON knowledge_chunks USING GIN (tsv)",
        },
        {
            "sqlite": """CREATE TRIGGER knowledge_chunks_unindexed AFTER DELETE ON knowledge_chunks
                BEGIN INSERT INTO knowledge_fts (knowledge_fts, rowid, section, body)
                VALUES ('delete', old.id, old.section, old.body); END""",
        },
        "CREATE INDEX knowledge_chunks_by_space ON knowledge_chunks (space)",
    ),
    (
        # Reminders (issue 29): delivered once, by whichever process claims them first
        # (`owner` until `lease_until`, as processed_inbound does); due_at is UTC.
        """CREATE TABLE reminders (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            platform TEXT NOT NULL,
            target TEXT NOT NULL,
            text TEXT NOT NULL,
            due_at TEXT NOT NULL,
            timezone TEXT NOT NULL,
            locale TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('pending', 'delivering', 'delivered', 'cancelled', 'failed')),
            owner TEXT,
            lease_until TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            delivered_at TEXT)""",
        """CREATE INDEX reminders_due ON reminders (platform, due_at)
            WHERE status IN ('pending', 'delivering')""",
        "CREATE INDEX reminders_by_user ON reminders (user_id, status)",
        # The time zone a user chose with /timezone (else their locale's is used).
        """CREATE TABLE user_timezones (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            timezone TEXT NOT NULL,
            set_at TEXT NOT NULL)""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# Every table, parents before children: the order `causette db copy` fills them in.
TABLES: tuple[str, ...] = (
    "users", "conversations", "messages", "guild_rules", "channel_prompts", "tier_grants",
    "entitlements", "audit_log", "usage_daily", "rate_windows", "personas", "advertisers",
    "campaigns",
    "impressions", "clicks", "guild_ads", "ad_preferences", "processed_inbound",
    "guild_moderation", "memories", "memory_settings", "web_sessions", "web_login_failures",
    "knowledge_docs", "knowledge_chunks", "reminders", "user_timezones",
)
# Tables whose `id` the database assigns (so copying must move the counter past them).
GENERATED_IDS: tuple[str, ...] = (
    "users", "conversations", "messages", "tier_grants", "audit_log", "campaigns",
    "impressions", "clicks", "memories", "advertisers", "web_login_failures",
    "knowledge_docs", "knowledge_chunks", "reminders",
)

SCHEMA_VERSION_TABLE = {
    "sqlite": "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
              "applied_at TEXT NOT NULL)",
    "postgresql": "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL, "
                  "applied_at TEXT NOT NULL)",
}

_IDENTITY = re.compile(r"\bINTEGER PRIMARY KEY\b")
_INTEGER = re.compile(r"\bINTEGER\b")


def for_dialect(statement: Statement, dialect: Dialect) -> str | None:
    """A migration statement as `dialect` spells it (None: nothing to do there)."""
    if isinstance(statement, dict):
        return statement.get(dialect)
    if dialect == "sqlite":
        return statement
    # SQLite's INTEGER is 64-bit and its INTEGER PRIMARY KEY numbers rows by itself.
    statement = _IDENTITY.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", statement)
    return _INTEGER.sub("BIGINT", statement)
