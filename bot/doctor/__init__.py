"""What `causette doctor` checks: everything a start needs, each as one typed result
that says what was found and, when it is not right, which setting to change and how.

Each area has its module (`runtime`, `model`, `database`, `backend`, `platforms`,
`web`; the
result type in `results`); `run_checks` here runs them all.

The checks look and probe but change nothing: a database write is rolled back, a port
is bound and released at once, the network is asked with a short timeout. So the doctor
can run beside a running bot, and `./run.sh` runs it after a failed start. The CLI
(`bot/cli/doctor.py`) only prints what these functions return."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.config import Settings, SettingsError, load_settings
from bot.doctor.backend import check_backend
from bot.doctor.database import check_database
from bot.doctor.model import check_model, check_model_advice, kv_cache_bytes
from bot.doctor.platforms import (
    check_discord,
    check_ports,
    check_whatsapp,
    token_bot_id,
    token_problem,
)
from bot.doctor.results import DISCORD_API, NETWORK_TIMEOUT_S, Check, Status, failed
from bot.doctor.runtime import Device, LlamaBuild, check_gpu, check_llama_cpp, check_python
from bot.doctor.web import check_web
from bot.engine.gguf import read_gguf

__all__ = [
    "DISCORD_API", "NETWORK_TIMEOUT_S", "Check", "Device", "LlamaBuild", "Status",
    "check_backend", "check_database", "check_discord", "check_gpu", "check_llama_cpp",
    "check_model", "check_model_advice", "check_ports", "check_python", "check_web",
    "check_whatsapp", "diagnose", "failed",
    "kv_cache_bytes", "read_gguf", "run_checks", "settings_source", "token_bot_id",
    "token_problem",
]


async def diagnose(*, wait_s: float = NETWORK_TIMEOUT_S,
                   discord_api: str = DISCORD_API) -> list[Check]:
    """Load the settings as `causette run` would, then run every check on them."""
    try:
        settings = load_settings()
    except SettingsError as exc:  # nothing else can be checked without them
        named = re.search(r"Invalid setting ([A-Z_]+)", str(exc))
        return [Check("settings", Status.FAIL, str(exc),
                      fix="correct it in .env or the environment",
                      setting=named.group(1) if named else None)]
    return [Check("settings", Status.OK, settings_source()),
            *await run_checks(settings, wait_s=wait_s, discord_api=discord_api)]


def settings_source() -> str:
    """Where the settings came from: pydantic-settings reads .env in the current folder."""
    env = Path(".env").resolve()
    if env.is_file():
        return f"read from {env} and the environment"
    return f"no .env in {env.parent}: the environment and defaults only"


async def run_checks(settings: Settings, *, wait_s: float = NETWORK_TIMEOUT_S,
                     discord_api: str = DISCORD_API) -> list[Check]:
    """Every check on `settings`, in the order they are shown. A check that breaks
    becomes a failed line of its own: the others are still reported."""
    try:
        llama, build = check_llama_cpp(settings)
    except Exception as exc:
        llama, build = _broken("llama-cpp", exc), None
    # Reading and hashing the model takes a moment: off the loop, beside the network.
    model, database, backend, discord = await asyncio.gather(
        _guard("model", asyncio.to_thread(check_model, settings, build)),
        _guard("database", check_database(settings, wait_s)),
        _guard("backend", check_backend(settings, wait_s)),
        _guard("discord", check_discord(settings, wait_s, discord_api)))
    return [*_sync("python", check_python), llama, *_sync("gpu", check_gpu, settings, build),
            *model, *_sync("model advice", check_model_advice, settings), *database,
            *backend, *discord, *_sync("whatsapp", check_whatsapp, settings),
            *_sync("web", check_web, settings), *_sync("ports", check_ports, settings)]


def _broken(name: str, exc: BaseException) -> Check:
    return Check(name, Status.FAIL, f"the check itself broke ({type(exc).__name__}: {exc})",
                 fix="report it as a bug, with the output of `causette doctor --json`")


def _listed(result: Check | list[Check]) -> list[Check]:
    return [result] if isinstance(result, Check) else result


def _sync(name: str, check: Callable[..., Check | list[Check]], *args: Any) -> list[Check]:
    try:
        return _listed(check(*args))
    except Exception as exc:
        return [_broken(name, exc)]


async def _guard(name: str, check: Awaitable[Check | list[Check]]) -> list[Check]:
    try:
        return _listed(await check)
    except Exception as exc:
        return [_broken(name, exc)]


