"""WhatsApp test helpers: a recording stand-in for the Graph API, webhook payloads, and a
webhook process (`python -m bot whatsapp`) to kill."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sys
from asyncio.subprocess import DEVNULL, Process
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.llama_server import free_port


@dataclass
class GraphStub:
    """A stand-in Graph API on 127.0.0.1: records the POSTs it accepted (`received`).

    It can fail the first N requests (`fail_first`, `fail_status`), answer the next text
    messages as scripted (`text_failures`: (status, headers) each; under 300 accepts), hold
    requests of a kind ("read" receipts or "text" messages) without answering until
    `release()`, so that a test can kill the webhook while one is in flight, and cut the
    connection of the next text messages (`cut_texts`) once it has read them: accepted
    (`cut` records them), but the answer never reaches the sender."""

    received: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    fail_first: int = 0
    fail_status: int = 500
    count: int = 0
    text_failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    text_attempts: int = 0
    hold: set[str] = field(default_factory=set)
    cut_texts: int = 0
    cut: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    _gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.count += 1
        if self.count <= self.fail_first:
            return web.json_response({"error": "try later"}, status=self.fail_status)
        payload = await request.json()
        kind = "text" if payload.get("type") == "text" else "read"
        if kind in self.hold:
            self.held.append(payload)
            await self._gate.wait()  # until released (the caller may be dead by then)
            return web.json_response({"error": {"message": "held"}}, status=503)
        if kind == "text" and self.cut_texts > 0:
            self.cut_texts -= 1
            self.cut.append(payload)
            assert request.transport is not None
            request.transport.abort()  # read and accepted; the answer is lost on the way
            return web.Response()
        if kind == "text":
            self.text_attempts += 1
            status, headers = self.text_failures.pop(0) if self.text_failures else (200, {})
            if status >= 300:
                return web.json_response({"error": {"message": f"scripted {status}"}},
                                         status=status, headers=headers)
        self.auth.append(request.headers.get("Authorization", ""))
        payload["_path"] = request.path
        self.received.append(payload)
        return web.json_response({"messages": [{"id": f"wamid.OUT{self.count}"}]})

    def release(self) -> None:
        """Let every held request end (with a 503 nobody may be waiting for)."""
        self.hold.clear()
        self._gate.set()

    def texts(self) -> list[str]:
        """The texts the stub accepted, in order."""
        return [p["text"]["body"] for p in self.received if p.get("type") == "text"]


async def graph_server(graph: GraphStub) -> TestServer:
    """The stub on a real aiohttp server on 127.0.0.1 (close it when done)."""
    app = web.Application()
    app.router.add_post("/{phone}/messages", graph.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll until `check()` holds; the bound only stops a broken test, it measures nothing."""
    for _ in range(2400):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def delivery(*messages: dict[str, Any], statuses: list[dict[str, Any]] | None = None) -> dict:
    value: dict[str, Any] = {"messaging_product": "whatsapp",
                             "metadata": {"display_phone_number": "15550000000",
                                          "phone_number_id": "PNID"},
                             "contacts": [{"profile": {"name": "Ada"}, "wa_id": "33612345678"}]}
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA", "changes": [{"value": value, "field": "messages"}]}]}


def text(message_id: str, body: str, sender: str = "33612345678") -> dict[str, Any]:
    return {"from": sender, "id": message_id, "timestamp": "1764000000", "type": "text",
            "text": {"body": body}}


def signed(payload: Any, secret: str) -> tuple[bytes, str]:
    """A delivery's body and its X-Hub-Signature-256 header."""
    body = json.dumps(payload).encode()
    return body, "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Webhook:
    """A `python -m bot whatsapp` process (real settings, real model unless told)."""

    process: Process
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    async def wait_ready(self) -> None:
        """Until it listens (it loads the model and picks up pending messages first)."""
        for _ in range(600):
            if self.process.returncode is not None:
                raise RuntimeError(f"webhook process exited: {self.log_text()[-3000:]}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise RuntimeError(f"webhook process did not start: {self.log_text()[-3000:]}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def kill_9(self) -> None:
        """SIGKILL, and reaped: its pid is gone (not a zombie) when this returns."""
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> int:
        """SIGTERM: it finishes what it accepted and exits."""
        if self.process.returncode is None:
            self.process.terminate()
        return await asyncio.wait_for(self.process.wait(), 120)


def webhook_env(cwd: Path, graph_url: str, secret: str, **extra: str) -> dict[str, str]:
    """The environment of a webhook process: no developer settings, the stub's URL."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DISCORD_", "WHATSAPP_", "LLM_", "DATABASE_"))}
    env.update({"WHATSAPP_VERIFY_TOKEN": "verify", "WHATSAPP_APP_SECRET": secret,
                "WHATSAPP_ACCESS_TOKEN": "token", "WHATSAPP_GRAPH_URL": graph_url,
                "WHATSAPP_RETRY_BASE_SECONDS": "0.01", "N_THREADS": "1", "N_CTX": "2048",
                "N_PARALLEL": "1", "MAX_REPLY_TOKENS": "24", "TEMPERATURE": "0",
                "SEED": "7", "LOG_LEVEL": "INFO", **extra})
    return env


async def start_webhook(cwd: Path, env: dict[str, str], name: str = "webhook") -> Webhook:
    """Start `python -m bot whatsapp` on a free port and wait until it listens."""
    port = free_port()
    log = cwd / f"{name}-{port}.log"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "whatsapp", cwd=cwd, stdout=DEVNULL,
        stderr=log.open("w"), env={**env, "WHATSAPP_PORT": str(port)})
    hook = Webhook(process, port, log)
    await hook.wait_ready()
    return hook
