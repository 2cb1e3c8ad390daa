"""The inference backend: in process, or each OpenAI-compatible server answering."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import aiohttp

from bot.config import Settings
from bot.doctor.results import NETWORK_TIMEOUT_S, Check, Status


def _reason(exc: BaseException, wait_s: float) -> str:
    """A network error in a few words."""
    if isinstance(exc, TimeoutError):
        return f"no answer in {wait_s:g} s"
    return str(exc) or type(exc).__name__


async def check_backend(settings: Settings, wait_s: float = NETWORK_TIMEOUT_S) -> list[Check]:
    """The in-process engine, or every LLM_BASE_URL server answering /models."""
    if settings.llm_backend == "local":
        return [Check("backend", Status.OK,
                      f"in-process llama.cpp: N_PARALLEL={settings.n_parallel} conversations "
                      f"at once, N_CTX={settings.n_ctx} tokens each, "
                      f"{settings.threads} thread(s)")]
    urls = [url.strip().rstrip("/") for url in settings.llm_base_url.split(",") if url.strip()]
    if not urls:
        return [Check("backend", Status.FAIL, "LLM_BACKEND=openai but LLM_BASE_URL names no "
                      "server", fix="set LLM_BASE_URL=http://host:port/v1", setting="LLM_BASE_URL")]
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return [Check("backend", Status.FAIL,
                          f"LLM_BASE_URL: {url!r} is not an address: it lacks http:// or "
                          "https:// and a host", fix="set LLM_BASE_URL=http://host:port/v1 "
                          "(several: separated by commas)", setting="LLM_BASE_URL")]
    key = settings.llm_api_key
    headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
    async with aiohttp.ClientSession(headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=wait_s)) as session:
        return list(await asyncio.gather(*(_probe_server(session, url, settings, wait_s)
                                           for url in urls)))


async def _probe_server(session: aiohttp.ClientSession, url: str, settings: Settings,
                        wait_s: float) -> Check:
    name, setting = "backend", "LLM_BASE_URL"
    try:
        async with session.get(f"{url}/models") as response:
            if response.status in (401, 403):
                return Check(name, Status.FAIL, f"{url} refused the key (HTTP {response.status})",
                             fix="set LLM_API_KEY to a key this server accepts",
                             setting="LLM_API_KEY")
            if response.status != 200:
                return Check(name, Status.FAIL,
                             f"{url}/models answered HTTP {response.status}",
                             fix="LLM_BASE_URL must be the server's OpenAI-compatible base "
                                 "URL, usually ending in /v1", setting=setting)
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Check(name, Status.FAIL, f"{url} does not answer ({_reason(exc, wait_s)})",
                     fix="start the inference server, or correct LLM_BASE_URL", setting=setting)
    models = body.get("data") if isinstance(body, dict) else None
    if not isinstance(models, list):
        return Check(name, Status.FAIL, f"{url}/models did not answer an OpenAI model list",
                     fix="point LLM_BASE_URL at an OpenAI-compatible server (.../v1)",
                     setting=setting)
    ids = [str(m.get("id")) for m in models if isinstance(m, dict)]
    if settings.llm_model and ids and settings.llm_model not in ids:
        return Check(name, Status.WARN,
                     f"{url} serves {', '.join(ids)}, not LLM_MODEL={settings.llm_model}",
                     fix="set LLM_MODEL to one of them, or leave it empty for the server's "
                         "default", setting="LLM_MODEL")
    return Check(name, Status.OK, f"{url} answers /models: {', '.join(ids) or 'none listed'}")
