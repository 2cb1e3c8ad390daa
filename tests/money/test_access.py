"""Where the bot answers: the rule matrix."""

from __future__ import annotations

from bot.money.access import may_answer
from bot.store import GuildRule

CHAIN = ["thread", "channel", "category"]


def rule(kind: str, target: str, mode: str) -> GuildRule:
    return GuildRule(kind, target, mode)  # type: ignore[arg-type]


def test_no_rules_means_everywhere() -> None:
    assert may_answer([], user_id="u", role_ids=[], channel_chain=CHAIN)


def test_blocked_category_covers_its_threads() -> None:
    rules = [rule("channel", "category", "block")]
    assert not may_answer(rules, user_id="u", role_ids=[], channel_chain=CHAIN)
    assert may_answer(rules, user_id="u", role_ids=[], channel_chain=["elsewhere"])


def test_allow_list_limits_to_listed_channels() -> None:
    rules = [rule("channel", "channel", "allow")]
    assert may_answer(rules, user_id="u", role_ids=[], channel_chain=CHAIN)
    assert not may_answer(rules, user_id="u", role_ids=[], channel_chain=["other"])


def test_nearest_channel_rule_wins() -> None:
    rules = [rule("channel", "category", "block"), rule("channel", "thread", "allow")]
    assert may_answer(rules, user_id="u", role_ids=[], channel_chain=CHAIN)


def test_roles_and_users() -> None:
    rules = [rule("role", "vip", "allow"), rule("role", "muted", "block"),
             rule("user", "friend", "allow"), rule("user", "troll", "block")]
    assert may_answer(rules, user_id="u", role_ids=["vip"], channel_chain=CHAIN)
    assert not may_answer(rules, user_id="u", role_ids=[], channel_chain=CHAIN)
    assert not may_answer(rules, user_id="u", role_ids=["vip", "muted"], channel_chain=CHAIN)
    assert may_answer(rules, user_id="friend", role_ids=[], channel_chain=CHAIN)
    assert not may_answer(rules, user_id="troll", role_ids=["vip"], channel_chain=CHAIN)
