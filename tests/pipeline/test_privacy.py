"""Privacy: export holds everything, forget deletes it (accounting keeps only an
anonymous id), retention, and the surfaces' commands."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from bot.config import Settings
from bot.console import ConsoleIO, run_chat
from bot.money.ads import AdContext, CampaignSpec
from bot.pipeline.assistant import Inbound
from bot.pipeline.runtime import Runtime, open_runtime
from tests.support.fakes import FakeEngine


async def populate(runtime: Runtime, user: str = "ada") -> int:
    assistant = runtime.assistant
    reply = await assistant.handle(Inbound("local", user, "t", "How do I cook pasta?"))
    await reply.outcome()
    await assistant.tiers.grant("user", f"local:{user}", "plus", by="op", reason="beta")
    await assistant.tiers.revoke("user", f"local:{user}", by="op")
    await assistant.set_persona(Inbound("local", user, "t", ""), "ignored: free tier")
    [campaign] = await assistant.ads.add([CampaignSpec(
        advertiser="Pasta Bella", headline="Fresh pasta", url="https://pasta.example",
        keywords=["pasta"], cpm=Decimal("5"), budget=Decimal("10"), start=date(2026, 1, 1),
        end=date(2030, 1, 1))], actor="op")
    user_id = await runtime.store.ensure_user("local", user)
    await runtime.store.set_personalize(user_id, True)
    offer = await assistant.ads.choose(AdContext(
        "local", user_id, assistant.tiers.free, "pasta please", "ok"))
    assert offer is not None
    impression = await assistant.ads.delivered(offer)
    assert impression is not None
    await assistant.ads.click(impression)
    return campaign


async def test_export_holds_everything(settings: Settings) -> None:
    async with open_runtime(settings, engine=FakeEngine()) as runtime:
        await populate(runtime)
        data = json.loads(await runtime.assistant.privacy.export("local:ada"))
        messages = data["conversations"][0]["messages"]
        assert [m["content"] for m in messages] == ["How do I cook pasta?",
                                                    "You said: How do I cook pasta?"]
        assert data["tier_grants"][0]["tier"] == "plus"
        assert data["ad_impressions"][0]["advertiser"] == "Pasta Bella"
        assert data["ad_impressions"][0]["clicked"] == 1
        assert data["consent"] == {"ad_personalization": True}
        assert data["usage"][0]["messages"] == 1


async def test_forget_deletes_and_keeps_accounting_anonymous(settings: Settings) -> None:
    async with open_runtime(settings, engine=FakeEngine()) as runtime:
        campaign_id = await populate(runtime)
        await populate(runtime, "bob")
        counts = await runtime.assistant.privacy.forget("local:ada")
        assert counts["messages"] == 2 and counts["impressions_anonymised"] == 1
        data = json.loads(await runtime.assistant.privacy.export("local:ada"))
        assert data["user"] is None and data["conversations"] == []
        assert data["tier_grants"] == [] and data["usage"] == [] and data["persona"] is None
        campaign = await runtime.store.campaign(campaign_id)
        assert campaign is not None and campaign.spent_micros == 10_000  # ada's and bob's
        reports = await runtime.assistant.ads.report()
        assert sum(r.impressions for r in reports) == 2 and sum(r.clicks for r in reports) == 2
        audit = await runtime.store.audit_log(limit=100)
        assert not any("local:ada" in e.subject or "local:ada" in e.actor for e in audit)
        assert any(e.action == "forget" for e in audit)
        bob = json.loads(await runtime.assistant.privacy.export("local:bob"))
        assert len(bob["conversations"][0]["messages"]) == 2  # others untouched
        assert await runtime.store.integrity_check() == "ok"


async def test_retention_deletes_old_messages(settings: Settings) -> None:
    from datetime import UTC, datetime

    from bot.store import Store

    moments = [datetime(2026, 1, 1, tzinfo=UTC)]
    store = await Store.open(settings.database_path, clock=lambda: moments[0])
    conversation = await store.open_conversation(await store.ensure_user("local", "a"), "t")
    await store.add_message(conversation, "user", "old")
    moments[0] += timedelta(days=40)
    await store.add_message(conversation, "user", "new")
    deleted = await store.purge_older_than(moments[0] - timedelta(days=30))
    assert deleted == 1
    assert [m.content for m in await store.messages(conversation)] == ["new"]
    await store.close()


async def test_terminal_privacy_commands(settings: Settings) -> None:
    async with open_runtime(settings, engine=FakeEngine()) as runtime:
        out = io.StringIO()
        lines = "Hello\n/privacy\n/privacy export\n/privacy forget\n/privacy forget confirm\n"
        await run_chat(runtime.assistant, "ada", ConsoleIO(io.StringIO(lines), out, False))
        text = out.getvalue()
        assert "What Causette stores" in text and '"content": "Hello"' in text
        assert "/privacy forget confirm" in text and "your data is deleted (2 messages)" in text
        assert await runtime.assistant.history("local", "ada", "terminal") == []


def test_cli_export_and_forget(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_PATH": str(tmp_path / "p.db")}

    def causette(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, text=True,
                              capture_output=True, cwd=tmp_path, env=env, timeout=300)

    assert causette("chat", "--as", "ada", stdin="Hi\n").returncode == 0
    exported = tmp_path / "ada.json"
    assert causette("privacy", "export", "local:ada", "--out", str(exported)).returncode == 0
    assert json.loads(exported.read_text())["conversations"][0]["messages"][0]["content"] == "Hi"
    refused = causette("privacy", "forget", "local:ada")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert "messages 2" in causette("privacy", "forget", "local:ada", "--yes").stdout
    assert json.loads(causette("privacy", "export", "local:ada").stdout)["user"] is None
    stats = json.loads(causette("stats", "--json").stdout)
    assert stats["messages_today"] == 0 and stats["users"] == 0
