"""Settings: read from the environment and `.env`; one object, validated at start-up."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.prompts import DEFAULT_SYSTEM_PROMPT

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_PATH = MODELS_DIR / DEFAULT_MODEL_FILE

# Settings whose values must never be echoed back, even in an error line.
SECRET_SETTINGS = frozenset({"discord_token"})


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
    n_ctx: int = Field(4096, ge=256, le=1_048_576)
    n_threads: int = Field(0, ge=0, le=512, description="0 = one per CPU core")
    n_batch: int = Field(512, ge=8, le=65_536)
    n_gpu_layers: int = Field(0, ge=-1, description="-1 = all layers on the GPU, 0 = CPU")
    max_reply_tokens: int = Field(512, ge=1, le=65_536)
    temperature: float = Field(0.7, ge=0.0, le=5.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
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
    attachment_max_bytes: int = Field(100_000, ge=0, le=25_000_000)
    channel_prompt_max_chars: int = Field(2000, ge=1, le=8000)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("discord_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

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


def _describe(error: dict[str, object]) -> str:
    loc = error.get("loc") or ()
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
