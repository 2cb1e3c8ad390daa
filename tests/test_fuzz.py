"""Property tests over everything that parses outside input: message text, WhatsApp
payloads, campaign files, settings."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings, SettingsError, load_settings
from bot.money.ads import CampaignFileError, parse_campaigns
from bot.pipeline.assistant import Inbound, clean_text
from bot.pipeline.runtime import open_runtime
from bot.whatsapp import parse_delivery
from tests.support.fakes import FakeEngine

ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=3000) | st.sampled_from([
    "", "\x00" * 10, "@everyone hi", "<@123> <@&456> @here", "```\n" * 50, "\u202e\u200b",
    "🍝" * 1000, "a" * 20_000])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=30)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(ANY_TEXT, min_size=1, max_size=3))
def test_any_text_gets_a_reply_or_a_clear_refusal_and_is_kept(
        settings: Settings, tmp_path: Path, texts: list[str]) -> None:
    async def check() -> None:
        db = Path(tempfile.mkdtemp(dir=tmp_path)) / "fuzz.db"  # a fresh database per example
        async with open_runtime(settings.model_copy(update={"database_path": db}),
                                engine=FakeEngine()) as runtime:
            for text in texts:
                reply = await runtime.assistant.handle(Inbound("local", "fuzz", "t", text))
                if reply.refusal:
                    assert reply.refusal.strip()
                    continue
                outcome = await reply.outcome()
                assert outcome.status == "complete"
            stored = [m.content for m in await runtime.assistant.history(
                "local", "fuzz", "t", limit=100) if m.role == "user"]
            # Kept as sent; NUL (not text, refused by PostgreSQL) is stored as U+FFFD.
            assert stored == [t.replace("\x00", "\ufffd") for t in texts
                              if clean_text(t).strip()]

    asyncio.run(check())


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_whatsapp_parser_never_raises(payload: Any) -> None:
    for message in parse_delivery(payload):
        assert isinstance(message.id, str) and isinstance(message.sender, str)
    wrapped = {"entry": [{"changes": [{"value": {"messages": [payload]}}]}]}
    parse_delivery(wrapped)
    parse_delivery(json.loads(json.dumps(wrapped)))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400) | st.builds(
    lambda fields: "[[campaign]]\n" + "\n".join(f"{k} = {v}" for k, v in fields.items()),
    st.dictionaries(st.sampled_from(["advertiser", "headline", "url", "cpm", "budget", "start",
                                     "end", "keywords", "languages", "body"]),
                    st.sampled_from(['"x"', "0", "-1", "1.5", "2026-01-01", '["a"]', "[]",
                                     '"https://a.example"', '"ftp://x"', "true"]))))
def test_campaign_files_are_valid_or_a_clear_error(text: str) -> None:
    try:
        specs = parse_campaigns(text, "fuzz.toml")
    except CampaignFileError as exc:
        assert str(exc).startswith("fuzz.toml: ")
        assert "\n" not in str(exc)
    else:
        assert all(s.budget > 0 and s.url.startswith("http") for s in specs)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(["N_CTX", "N_THREADS", "N_GPU_LAYERS", "MAX_REPLY_TOKENS",
                             "TEMPERATURE", "TOP_P", "LOG_LEVEL", "QUEUE_MAX", "TIERS",
                             "SKU_TIERS", "WHATSAPP_PORT", "ADS_MAX_PER_DAY"]),
       value=st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
                     max_size=40))
def test_any_setting_value_is_accepted_or_one_clear_line(name: str, value: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(name, value)
        try:
            load_settings()
        except SettingsError as exc:
            assert "\n" not in str(exc)
            assert name in str(exc)
