"""Settings: read from the environment and `.env`; one object, validated at start-up."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError as PydanticSettingsError

from bot.pipeline.prompts import DEFAULT_SYSTEM_PROMPT
from bot.safety.crisis import DEFAULT_CRISIS_RESOURCES, CrisisLine

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_PATH = MODELS_DIR / DEFAULT_MODEL_FILE

# Settings whose values must never be echoed back, even in an error line.
SECRET_SETTINGS = frozenset({"discord_token", "llm_api_key", "whatsapp_verify_token",
                             "whatsapp_app_secret", "whatsapp_access_token",
                             "database_url", "moderation_api_key", "web_admin_token"})


PREMIUM_COMMANDS = ("persona", "summarize", "translate")


class TierSpec(BaseModel):
    """What one tier gives. Tiers are data: money and limits never depend on the model."""

    rank: int = Field(ge=0, description="order of tiers, free = 0")
    messages_per_day: int = Field(ge=0)
    context_tokens: int = Field(ge=0, description="tokens of history in a prompt")
    max_reply_tokens: int = Field(ge=1)
    priority: int = Field(description="queue priority, higher first")
    ads: bool = Field(description="whether sponsored replies may be shown")
    commands: list[str] = Field(default_factory=list, description="premium commands unlocked")
    memory_tokens: int = Field(128, ge=0, description="tokens of saved memories in a prompt")
    knowledge_tokens: int = Field(
        256, ge=0, description="tokens of the server's document passages in a prompt")
    reminders: int = Field(5, ge=0, description="reminders a user may have pending")

    @field_validator("commands")
    @classmethod
    def _known_commands(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(PREMIUM_COMMANDS))
        if unknown:
            raise ValueError(f"unknown premium command(s) {unknown}; known: {PREMIUM_COMMANDS}")
        return value


DEFAULT_TIERS: dict[str, TierSpec] = {
    "free": TierSpec(rank=0, messages_per_day=50, context_tokens=1024, max_reply_tokens=384,
                     priority=0, ads=True, commands=[], memory_tokens=128,
                     knowledge_tokens=256, reminders=5),
    "plus": TierSpec(rank=1, messages_per_day=500, context_tokens=2048, max_reply_tokens=768,
                     priority=5, ads=False, commands=["persona", "summarize"],
                     memory_tokens=256, knowledge_tokens=512,
                     reminders=50),
    "pro": TierSpec(rank=2, messages_per_day=5000, context_tokens=3072, max_reply_tokens=1024,
                    priority=10, ads=False, commands=list(PREMIUM_COMMANDS),
                    memory_tokens=512, knowledge_tokens=768,
                    reminders=200),
}


class SettingsError(Exception):
    """A setting has an invalid value; the message is one line naming it."""


class Settings(BaseSettings):
    """Every knob of Causette. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False,
        env_ignore_empty=True,
    )

    discord_token: SecretStr | None = None
    model_path: Path = DEFAULT_MODEL_PATH
    database_path: Path = Path("data/causette.db")
    database_url: SecretStr | None = Field(
        None, description="postgresql://user:password@host:port/db; unset = SQLite file")
    database_pool_size: int = Field(10, ge=1, le=1000,
                                    description="PostgreSQL connections per process")
    n_ctx: int = Field(4096, ge=256, le=1_048_576)
    n_threads: int = Field(0, ge=0, le=512, description="0 = one per CPU core")
    n_batch: int = Field(512, ge=8, le=65_536)
    n_parallel: int = Field(4, ge=1, le=64,
                            description="conversations decoded together in one batch")
    llm_backend: Literal["local", "openai"] = "local"
    llm_base_url: str = Field("http://127.0.0.1:8000/v1",
                              description="OpenAI-compatible servers, comma separated")
    llm_api_key: SecretStr | None = None
    llm_model: str = ""
    llm_retry_seconds: float = Field(30.0, ge=0.0, le=3600.0)
    llm_read_timeout: float = Field(60.0, gt=0.0, le=3600.0)
    kv_save_mb: int = Field(
        256, ge=0, le=1_048_576,
        description="RAM for the KV of evicted conversations; 0 = re-read them instead")
    kv_unified: bool = Field(
        False, description="one KV buffer for all sequences: faster, not bit-exact")
    prefill_sequences: int = Field(
        1, ge=1, le=64,
        description="new prompts read per decoding step, fewest tokens first; 1 when "
                    "reading prompts together is no faster than one by one (CPU)")
    engine_shutdown_seconds: float = Field(
        10.0, gt=0.0, le=3600.0, description="longest wait for the model worker to stop")
    engine_restart_attempts: int = Field(
        3, ge=0, le=100,
        description="restarts of a stopped model before the process exits (status 70)")
    engine_restart_backoff_seconds: float = Field(
        1.0, ge=0.0, le=600.0, description="wait before the first restart, doubled each try")
    n_gpu_layers: int = Field(0, ge=-1, description="-1 = all layers on the GPU, 0 = CPU")
    max_reply_tokens: int = Field(512, ge=1, le=65_536)
    temperature: float = Field(0.7, ge=0.0, le=5.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    top_k: int = Field(
        40, ge=0, le=100_000,
        description="only the k likeliest tokens are drawn from; 0 = off (slow on CPU)")
    seed: int = Field(-1, ge=-1, description="-1 = a random seed per reply")
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, min_length=1, max_length=8000)
    history_token_budget: int = Field(
        0, ge=0, description="tokens of history in a prompt; 0 = what the context allows"
    )
    queue_max: int = Field(64, ge=1, le=100_000)
    max_message_chars: int = Field(200_000, ge=1, le=10_000_000)
    discord_answer_dms: bool = True
    discord_edit_interval: float = Field(
        1.0, ge=0.2, le=30.0, description="seconds between edits of a streamed message")
    discord_queue_notice_at: int = Field(
        2, ge=1, description="queue position from which the first message says 'in queue'")
    discord_dev_guild: int | None = Field(None, description="guild id for `causette sync`")
    shard_count: int | None = Field(None, ge=1, le=10_000,
                                    description="Discord gateway shards in all; empty: one")
    shard_ids: list[int] = Field(default_factory=list,
                                 description="the shards this process runs (JSON list)")
    attachment_max_bytes: int = Field(100_000, ge=0, le=25_000_000)
    channel_prompt_max_chars: int = Field(2000, ge=1, le=8000)
    tiers: dict[str, TierSpec] = Field(default_factory=lambda: dict(DEFAULT_TIERS))
    sku_tiers: dict[str, str] = Field(default_factory=dict,
                                      description="Discord SKU id -> tier name")
    rate_limit_messages: int = Field(8, ge=1, description="messages per window per user")
    rate_limit_window_seconds: int = Field(30, ge=1, le=86_400)
    persona_max_chars: int = Field(1000, ge=1, le=8000)
    summarize_max_messages: int = Field(50, ge=1, le=500)
    # Memory (bot/pipeline/memory.py): facts a user asked Causette to keep, across conversations.
    memory_auto: bool = Field(
        False, description="after an answer, ask the model whether to save a fact")
    memory_fact_chars: int = Field(300, ge=1, le=4000, description="longest saved fact")
    memory_max: int = Field(50, ge=1, le=10_000, description="saved facts per user")
    # Knowledge (bot/knowledge/): a server's own documents, searched for each question.
    knowledge_max_documents: int = Field(50, ge=1, le=10_000, description="per server")
    knowledge_max_bytes: int = Field(5_000_000, ge=1024, le=100_000_000,
                                     description="largest document file")
    knowledge_passages: int = Field(3, ge=0, le=20, description="passages per question at most")
    # Reminders (bot/reminders/): delivered once by whichever process claims them.
    reminder_timezone: str = Field("UTC", description="zone of users who chose none")
    reminder_poll_seconds: float = Field(5.0, gt=0, le=3600,
                                         description="how often due reminders are looked for")
    reminder_late_seconds: int = Field(
        60, ge=1, le=86_400, description="a reminder sent later than this says how late")
    reminder_lease_seconds: int = Field(
        60, ge=5, le=86_400, description="a claimed reminder's hold, past which another "
        "process may deliver it")
    whatsapp_host: str = "127.0.0.1"
    whatsapp_port: int = Field(8080, ge=1, le=65535)
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_access_token: SecretStr | None = None
    whatsapp_graph_url: str = Field("https://graph.facebook.com/v21.0", pattern=r"^https?://")
    whatsapp_max_body_bytes: int = Field(1_000_000, ge=1024, le=50_000_000)
    whatsapp_send_attempts: int = Field(4, ge=1, le=10)
    whatsapp_retry_base_seconds: float = Field(0.5, ge=0.0, le=30.0)
    retention_days: int = Field(0, ge=0, le=36_500,
                                description="delete messages older than this; 0 = keep")
    metrics_port: int = Field(0, ge=0, le=65535, description="Prometheus on 127.0.0.1; 0 = off")
    # The web console (`causette web`): on 127.0.0.1 unless WEB_HOST says otherwise, meant
    # to sit behind an HTTPS reverse proxy (then WEB_SECURE_COOKIES=true).
    web_host: str = "127.0.0.1"
    web_port: int = Field(8090, ge=1, le=65535)
    web_admin_token: SecretStr | None = Field(
        None, description="the operators' login token; also keys the session cookies")
    web_secure_cookies: bool = Field(False, description="cookies sent over HTTPS only")
    web_session_hours: float = Field(12.0, gt=0.0, le=24.0 * 90,
                                     description="a login lasts this long")
    # `causette run` serves the console too, in its own process, only when asked: a
    # separate switch rather than "WEB_PORT set", because WEB_PORT has a default that
    # `causette web` uses, so it is always set.
    web_with_run: bool = Field(False, description="`causette run` also serves the console")
    log_format: Literal["text", "json"] = "text"
    ads_every_n_replies: int = Field(3, ge=1, description="at most one ad per N replies")
    ads_max_per_day: int = Field(5, ge=0, description="at most M ads per user per day")
    ads_discord_default: bool = Field(False, description="ads in servers that never chose")
    ads_terminal: bool = True
    ads_whatsapp: bool = True
    ads_pacing_slack: float = Field(
        0.05, ge=0.0, le=1.0, description="how far ahead of an even spend a campaign may be")
    currency: str = Field("EUR", min_length=3, max_length=3)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # Safety (bot/safety/crisis.py, bot/safety/moderation.py): crisis lines are data, not prompts.
    crisis_resources: list[CrisisLine] = Field(
        default_factory=lambda: list(DEFAULT_CRISIS_RESOURCES),
        description="crisis lines by country and language (JSON list)")
    moderation_url: str | None = Field(
        None, pattern=r"^https?://", description="an OpenAI-style /v1/moderations endpoint")
    moderation_api_key: SecretStr | None = None
    moderation_model: str = ""
    moderation_floor: list[str] = Field(
        default_factory=lambda: ["sexual/minors", "self-harm/instructions", "illicit/violent"],
        description="categories refused everywhere; servers cannot allow them")
    moderation_default: list[str] = Field(
        default_factory=lambda: ["violence", "harassment", "illicit", "hate"],
        description="categories refused where a server's admins never chose")
    moderation_input_fail: Literal["closed", "open"] = "closed"
    moderation_output_fail: Literal["closed", "open"] = "open"
    moderation_timeout_seconds: float = Field(5.0, gt=0.0, le=120.0)
    moderation_max_chars: int = Field(20_000, ge=100, le=1_000_000)
    moderation_output_every_chars: int = Field(
        200, ge=1, le=100_000, description="answers are checked each sentence or this often")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("discord_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _postgresql_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
                ("postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL must start with postgresql:// "
                             "(unset it to use the SQLite file at DATABASE_PATH)")
        return value

    @model_validator(mode="after")
    def _tiers_are_consistent(self) -> Settings:
        if "free" not in self.tiers:
            raise ValueError("TIERS must define a 'free' tier")
        unknown = {sku: tier for sku, tier in self.sku_tiers.items() if tier not in self.tiers}
        if unknown:
            raise ValueError(f"SKU_TIERS names unknown tiers: {unknown}")
        return self

    @model_validator(mode="after")
    def _shards_are_consistent(self) -> Settings:
        if self.shard_ids and not self.shard_count:
            raise ValueError("SHARD_IDS needs SHARD_COUNT")
        if self.shard_count and any(not 0 <= i < self.shard_count for i in self.shard_ids):
            raise ValueError(f"SHARD_IDS must be between 0 and SHARD_COUNT - 1 "
                             f"({self.shard_count - 1})")
        return self

    @model_validator(mode="after")
    def _reply_fits_context(self) -> Settings:
        if self.max_reply_tokens >= self.n_ctx:
            raise ValueError(
                f"MAX_REPLY_TOKENS ({self.max_reply_tokens}) must be smaller than "
                f"N_CTX ({self.n_ctx})"
            )
        return self

    @property
    def threads(self) -> int:
        """The number of CPU threads for inference."""
        return self.n_threads or os.cpu_count() or 1

    @property
    def prompt_token_budget(self) -> int:
        """Tokens available to the prompt (system + history + message)."""
        room = self.n_ctx - self.max_reply_tokens
        if self.history_token_budget:
            return min(room, self.history_token_budget)
        return room


def _describe(error: dict[str, Any]) -> str:
    loc: tuple[Any, ...] = tuple(error.get("loc") or ())
    name = str(loc[0]).upper() if loc else "settings"
    msg = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if loc and str(loc[0]) in SECRET_SETTINGS:
        return f"Invalid setting {name}: {msg}"
    if not loc:
        return f"Invalid settings: {msg}"
    return f"Invalid setting {name}: {msg} (got {error.get('input')!r})"


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning a validation failure into one clear line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SettingsError(_describe(dict(first))) from None
    except PydanticSettingsError as exc:  # a complex setting (TIERS, SKU_TIERS) that is not JSON
        match = re.search(r'field "(\w+)"', str(exc))
        name = match.group(1).upper() if match else "settings"
        raise SettingsError(f"Invalid setting {name}: it must be valid JSON") from None
